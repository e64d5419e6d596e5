import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
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

export function openTable({ client, tableNames, retention }: TableOptions) {
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
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
    let existing = err.Item ? unmarshall(err.Item as unknown as Record<string, AttributeValue>) : undefined;
    if (!existing) {
      const got = await doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
      existing = got.Item;
    }
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

  return { doc, tableNames, W, A: tableNames.attendees, retention, queryWorkshopItems, conditional };
}
