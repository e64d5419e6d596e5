import { BatchGetItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, QueryCommand, type BatchGetCommandInput, type GetCommandInput, type PutCommandInput, type UpdateCommandInput } from "@aws-sdk/lib-dynamodb";
import { marshall, unmarshall, type marshallOptions, type NativeAttributeValue } from "@aws-sdk/util-dynamodb";
import { cachedTwin } from "./dynamo-client.js";
import { ConditionRefusedError } from "./errors.js";
import { slugOfPk, type RetentionPolicy, type TableNames } from "./tables.js";

/**
 * What every item kind's module shares: the document client over both tables, the condition
 * builder, the mapping of a refused condition to ConditionRefusedError, and paging. The item
 * layout itself is tables.ts.
 */

/**
 * A ConditionExpression assembled from named parts, so each invariant reads as one line and the
 * placeholders never collide.
 */
export class Expression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;

  name(attr: string): string {
    const ph = `#${attr.replace(/[^A-Za-z0-9_]/g, "_")}`;
    this.names[ph] = attr;
    return ph;
  }

  value(v: unknown): string {
    const ph = `:v${this.n++}`;
    this.values[ph] = v;
    return ph;
  }

  params() {
    return {
      ...(Object.keys(this.names).length ? { ExpressionAttributeNames: this.names } : {}),
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

export function isConditionalFailure(err: unknown): err is Error & { Item?: Record<string, unknown> } {
  return err instanceof Error && err.name === "ConditionalCheckFailedException";
}

/** Runs a conditional write; answers false when the condition refused it (someone got there first). */
export async function writeIf(send: () => Promise<unknown>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (err) {
    if (isConditionalFailure(err)) return false;
    throw err;
  }
}

/** Attributes that belong to the key schema, never to the domain objects handed out. */
export const stripKeys = <T>(item: Record<string, unknown> | undefined): T | undefined => {
  if (!item) return undefined;
  const { pk, sk, ttl, ...rest } = item;
  void sk;
  void ttl;
  return (pk === undefined ? rest : { slug: slugOfPk(String(pk)), ...rest }) as T;
};

export interface TableOptions {
  client: DynamoDBClient;
  tableNames: TableNames;
  retention: RetentionPolicy;
}

export type Table = ReturnType<typeof openTable>;

const MARSHALL: marshallOptions = { removeUndefinedValues: true, convertClassInstanceToMap: false };
type Item = Record<string, NativeAttributeValue>;
const wire = (o: Item) => marshall(o, MARSHALL);
const wireValues = (values: Item | undefined) => (values ? wire(values) : undefined);
const fromWire = (item: Record<string, AttributeValue> | undefined) => (item ? (unmarshall(item) as Item) : undefined);

/**
 * The claim path's calls (a first claim's BatchGet and four writes; a refused claim's read of the
 * person's claim and its attempt count; the key page's read), with the document client's
 * inputs and outputs, made with the low-level commands over a client that resolves its middleware
 * once per command kind (dynamo-client.ts `cachedTwin`), and marshalled here with the options the
 * document client uses: the same requests and answers, a fifth less CPU per call (local/bench/per-call.ts).
 */
function directCalls(client: DynamoDBClient) {
  const twin = cachedTwin(client);
  return {
    async put(input: PutCommandInput): Promise<void> {
      await twin.send(new PutItemCommand({ ...input, Item: wire(input.Item!), ExpressionAttributeValues: wireValues(input.ExpressionAttributeValues) }));
    },
    async get(input: GetCommandInput): Promise<Item | undefined> {
      return fromWire((await twin.send(new GetItemCommand({ ...input, Key: wire(input.Key!) }))).Item);
    },
    /** Answers the item's attributes as ReturnValues asks (ALL_NEW: the whole item after the update). */
    async update(input: UpdateCommandInput): Promise<Item | undefined> {
      const res = await twin.send(new UpdateItemCommand({ ...input, Key: wire(input.Key!), ExpressionAttributeValues: wireValues(input.ExpressionAttributeValues) }));
      return fromWire(res.Attributes);
    },
    /** One BatchGetItem: the items found per table, and the keys left unprocessed (ask again for those). */
    async batchGet(requestItems: NonNullable<BatchGetCommandInput["RequestItems"]>) {
      const res = await twin.send(
        new BatchGetItemCommand({
          RequestItems: Object.fromEntries(Object.entries(requestItems).map(([table, r]) => [table, { ...r, Keys: r.Keys!.map(wire) }])),
        }),
      );
      const responses = Object.fromEntries(Object.entries(res.Responses ?? {}).map(([table, items]) => [table, items.map((i) => fromWire(i)!)]));
      const unprocessed = Object.fromEntries(Object.entries(res.UnprocessedKeys ?? {}).map(([table, r]) => [table, { ...r, Keys: (r.Keys ?? []).map((k) => fromWire(k)!) }]));
      return { responses, unprocessed: Object.keys(unprocessed).length ? unprocessed : undefined };
    },
  };
}

export function openTable({ client, tableNames, retention }: TableOptions) {
  // A copy: the document client writes its own defaults (convertTopLevelContainer) into the object it is given.
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { ...MARSHALL } });
  const direct = directCalls(client);
  const W = tableNames.workshops;

  /**
   * Every item of a workshop whose sort key starts with `prefix`, or lies between `between[0]` and
   * `between[1]` (both included), following pages. `newestFirst` with `limit` reads the last items only.
   */
  async function queryWorkshopItems(
    slug: string,
    range: { prefix: string } | { between: readonly [string, string] },
    opts: { consistent: boolean; newestFirst?: boolean; limit?: number },
  ): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    const condition =
      "prefix" in range
        ? { KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)", values: { ":prefix": range.prefix } }
        : { KeyConditionExpression: "#pk = :pk AND #sk BETWEEN :from AND :to", values: { ":from": range.between[0], ":to": range.between[1] } };
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(
        new QueryCommand({
          TableName: W,
          KeyConditionExpression: condition.KeyConditionExpression,
          ExpressionAttributeNames: { "#pk": "pk", "#sk": "sk" },
          ExpressionAttributeValues: { ":pk": slug, ...condition.values },
          ConsistentRead: opts.consistent,
          ExclusiveStartKey: start,
          ...(opts.newestFirst ? { ScanIndexForward: false } : {}),
          ...(opts.limit ? { Limit: opts.limit - out.length } : {}),
        }),
      );
      out.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && (!opts.limit || out.length < opts.limit));
    return out;
  }

  /** What refused the write: the item DynamoDB returned, or (dynalite does not return it) a fresh read. */
  async function refusal<T>(operation: string, table: string, key: Record<string, string>, err: Error & { Item?: Record<string, unknown> }) {
    // DynamoDB returns the item in wire format on the exception (the document client does not
    // translate errors); dynalite does not return it at all, so read it.
    const existing = fromWire(err.Item as Record<string, AttributeValue> | undefined) ?? (await direct.get({ TableName: table, Key: key, ConsistentRead: true }));
    return new ConditionRefusedError<T>(operation, key, stripKeys<T>(existing), err);
  }

  /** Runs a conditional write; a refused condition becomes a ConditionRefusedError carrying the item that refused it. */
  async function conditional<T>(operation: string, table: string, key: Record<string, string>, write: () => Promise<unknown>) {
    try {
      return await write();
    } catch (err) {
      if (isConditionalFailure(err)) throw await refusal<T>(operation, table, key, err);
      throw err;
    }
  }

  return { doc, direct, tableNames, W, A: tableNames.attendees, retention, queryWorkshopItems, conditional };
}
