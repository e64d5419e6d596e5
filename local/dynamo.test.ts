import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalDynamo, type LocalDynamo } from "./dynamo.js";

describe("the local DynamoDB", () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startLocalDynamo();
  });
  afterAll(() => dynamo.close());

  it("answers the SDK", async () => {
    expect((await dynamo.client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
  });

  it("refuses a web page's request, so a site the developer visits cannot read the stored keys", async () => {
    const scan = {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.ListTables", origin: "https://evil.example" },
      body: "{}",
    };
    const res = await fetch(dynamo.endpoint, scan);
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await fetch(dynamo.endpoint, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(403);
  });
});
