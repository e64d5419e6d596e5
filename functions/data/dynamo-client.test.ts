import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { expect, it } from "vitest";
import { createDynamoClient, UNUSED_MIDDLEWARES } from "./dynamo-client.js";

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
