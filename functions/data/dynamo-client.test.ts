import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTables, startLocalDynamo, type LocalDynamo } from "../../local/dynamo.js";
import { cachedTwin, createDynamoClient, UNUSED_MIDDLEWARES } from "./dynamo-client.js";
import { tableNames } from "./tables.js";

const config = { region: "local", endpoint: "http://127.0.0.1:1", credentials: { accessKeyId: "local", secretAccessKey: "local" } };
const names = (c: DynamoDBClient) => c.middlewareStack.identify().map((entry) => entry.split(" ")[0]);

it("leaves out the middlewares it names, which a plain client of this SDK version has", () => {
  const plain = names(new DynamoDBClient(config));
  for (const name of UNUSED_MIDDLEWARES) expect(plain, `the SDK no longer has ${name}: update UNUSED_MIDDLEWARES`).toContain(name);
  const lean = names(createDynamoClient(config));
  for (const name of UNUSED_MIDDLEWARES) expect(lean).not.toContain(name);
  // Everything else stays: serialization, signing, retries, the host header.
  expect(lean).toEqual(plain.filter((n) => !(UNUSED_MIDDLEWARES as readonly string[]).includes(n!)));
  expect(lean).toEqual(expect.arrayContaining(["serializerMiddleware", "retryMiddleware", "httpSigningMiddleware", "hostHeaderMiddleware"]));
});

describe("the cached twin", () => {
  let dynamo: LocalDynamo;
  const names = tableNames("twin");
  beforeAll(async () => {
    dynamo = await startLocalDynamo();
    await ensureTables(dynamo.client, names);
  });
  afterAll(async () => {
    await dynamo?.close();
  });

  it("sends each command's own input, and is seen by what watches the client it was made from", async () => {
    const seen: string[] = [];
    dynamo.client.middlewareStack.add(
      (next) => async (args) => {
        seen.push(String((args.request as { headers: Record<string, string> }).headers["x-amz-target"]).split(".").pop()!);
        return next(args);
      },
      { step: "build", name: "twinWatch" },
    );
    const twin = cachedTwin(dynamo.client);
    for (const sk of ["a", "b", "c"]) await twin.send(new PutItemCommand({ TableName: names.workshops, Item: { pk: { S: "twin" }, sk: { S: sk }, n: { N: String(sk.charCodeAt(0)) } } }));
    const got = await twin.send(new GetItemCommand({ TableName: names.workshops, Key: { pk: { S: "twin" }, sk: { S: "b" } }, ConsistentRead: true }));
    expect(got.Item?.n).toEqual({ N: "98" });
    const all = await dynamo.client.send(new QueryCommand({ TableName: names.workshops, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: "twin" } }, ConsistentRead: true }));
    expect(all.Items?.map((i) => i.sk?.S)).toEqual(["a", "b", "c"]);
    expect(seen).toEqual(["PutItem", "PutItem", "PutItem", "GetItem", "Query"]);
    dynamo.client.middlewareStack.remove("twinWatch");
  });
});
