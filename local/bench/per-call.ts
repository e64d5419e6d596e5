import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { createDynamoClient } from "../../functions/data/dynamo-client.js";
import { openTable } from "../../functions/data/table.js";
import { DEFAULT_RETENTION, tableNames } from "../../functions/data/tables.js";
import { exchange } from "../../functions/openrouter/transport.js";
import { ensureTables } from "../dynamo.js";
import { startChild } from "./split.js";

/**
 * CPU per call of this process, for the claim path's two kinds of call (docs/performance.md):
 *
 * - DynamoDB: a conditional Put, an Update answering ALL_NEW and a BatchGet, 20 in flight, against
 *   dynalite in its own process, through (a) the SDK's defaults and its document client, (b) the
 *   product's client (functions/data/dynamo-client.ts) and the document client, (c) the product's
 *   client and the claim path's direct calls (table.ts `direct`);
 * - OpenRouter: a POST answering a created key's JSON, 30 in flight, against a bare server in its
 *   own process, through `fetch` and through the product's transport (functions/openrouter/transport.ts).
 *
 * Each variant is warmed first, then measured in rounds taken in turn, so a busy moment touches all
 * alike; prints each variant's median and spread. `npx tsx local/bench/per-call.ts [--rounds N]`
 * (about a minute).
 */

const ROUNDS = Number(process.argv[process.argv.indexOf("--rounds") + 1]) || 5;
const HERE = (file: string) => fileURLToPath(new URL(file, import.meta.url));

type Call = (i: number) => Promise<unknown>;

/** CPU (ms) of this process per call, `calls` invocations of `call` (each making `per` calls), `inFlight` at a time. */
async function cpuPerCall(calls: number, per: number, inFlight: number, call: Call): Promise<number> {
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < calls) await call(next++);
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / (calls * per);
}

async function compare(title: string, variants: [string, Call][], opts: { calls: number; per: number; inFlight: number }) {
  for (const [, call] of variants) await cpuPerCall(opts.calls, opts.per, opts.inFlight, call);
  const figures = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) for (const [name, call] of variants) figures.get(name)!.push(await cpuPerCall(opts.calls, opts.per, opts.inFlight, call));
  process.stdout.write(`${title}: ms of this process's CPU per call, median (min-max over ${ROUNDS} rounds)\n`);
  for (const [name, xs] of figures) {
    xs.sort((a, b) => a - b);
    process.stdout.write(`  ${name.padEnd(48)} ${xs[Math.floor(xs.length / 2)]!.toFixed(3)} (${xs[0]!.toFixed(3)}-${xs[xs.length - 1]!.toFixed(3)})\n`);
  }
}

if (process.argv.includes("--serve")) {
  // The OpenRouter side: answers every request as POST /keys does, with a created key's JSON.
  const answer = JSON.stringify({ data: { hash: "f".repeat(64), name: "workshop/abc/1", label: "sk-or-v1-abc...xyz", disabled: false, limit: 5, limit_remaining: 5, usage: 0, created_at: "2026-12-06T00:00:00Z", updated_at: null }, key: `sk-or-v1-${"0".repeat(64)}` });
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(201, { "content-type": "application/json" }).end(answer));
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`serving http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1\n`));
} else {
  const env = { PATH: process.env.PATH ?? "" };
  const dynamo = await startChild(HERE("./dynamo-process.ts"), [], env, /^dynamo (\S+)$/m);
  const upstream = await startChild(HERE("./per-call.ts"), ["--serve"], env, /^serving (\S+)$/m);
  try {
    const config = { endpoint: dynamo.ready, region: "local", credentials: { accessKeyId: "local", secretAccessKey: "local" } };
    const names = tableNames(`percall${process.pid}`);
    await ensureTables(new DynamoDBClient(config), names);
    const W = names.workshops;
    // The claim path's shapes: a conditional Put of a claim, an Update answering the item, a BatchGet of two items.
    const put = (i: number) => ({
      TableName: W,
      Item: { pk: "per-call", sk: `CLAIM#${i % 500}`, status: "RESERVED", limit_usd: 5, email: `a${i}@example.com`, lease_until: i, missing: undefined },
      ConditionExpression: "attribute_not_exists(pk) OR #s = :r",
      ExpressionAttributeNames: { "#s": "status" },
      ExpressionAttributeValues: { ":r": "RELEASED" },
    });
    const update = (i: number) => ({ TableName: W, Key: { pk: "per-call", sk: `CLAIM#${i % 500}` }, UpdateExpression: "SET #s = :a", ExpressionAttributeNames: { "#s": "status" }, ExpressionAttributeValues: { ":a": "ACTIVE" }, ReturnValues: "ALL_NEW" as const });
    const keys = (i: number) => ({ [W]: { Keys: [{ pk: "per-call", sk: `CLAIM#${i % 500}` }, { pk: "per-call", sk: "LEDGER" }], ConsistentRead: true } });
    const refusedOk = (p: Promise<unknown>) => p.catch((e: Error) => (e.name === "ConditionalCheckFailedException" ? undefined : Promise.reject(e)));
    const viaDocument = (client: DynamoDBClient): Call => {
      const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false } });
      return async (i) => {
        await refusedOk(doc.send(new PutCommand(put(i))));
        await doc.send(new UpdateCommand(update(i)));
        await doc.send(new BatchGetCommand({ RequestItems: keys(i) }));
      };
    };
    const { direct } = openTable({ client: createDynamoClient(config), tableNames: names, retention: DEFAULT_RETENTION });
    const viaDirect: Call = async (i) => {
      await refusedOk(direct.put(put(i)));
      await direct.update(update(i));
      await direct.batchGet(keys(i));
    };
    await compare(
      "DynamoDB (a Put, an Update, a BatchGet; 20 in flight)",
      [
        ["SDK defaults, document client", viaDocument(new DynamoDBClient(config))],
        ["createDynamoClient, document client", viaDocument(createDynamoClient(config))],
        ["createDynamoClient, table.direct (cached twin)", viaDirect],
      ],
      { calls: 600, per: 3, inFlight: 20 },
    );

    const base = new URL(upstream.ready);
    const body = JSON.stringify({ name: "workshop/abc/1", limit: 5, expires_at: "2026-12-07T00:00:00Z" });
    const headers = { authorization: `Bearer sk-or-v1-${"1".repeat(64)}`, accept: "application/json", "content-type": "application/json" };
    await compare(
      "OpenRouter POST /keys (30 in flight)",
      [
        ["fetch", async () => JSON.parse(await (await fetch(`${upstream.ready}/keys`, { method: "POST", headers, body, signal: AbortSignal.timeout(5_000) })).text())],
        ["functions/openrouter/transport.ts", async () => JSON.parse((await exchange({ method: "POST", base, path: "/keys", headers, body }, 5_000)).text)],
      ],
      { calls: 2_000, per: 1, inFlight: 30 },
    );
  } finally {
    dynamo.process.kill("SIGTERM");
    upstream.process.kill("SIGTERM");
  }
}
