import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyExpiresAt } from "../../workshops/derive.js";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import { DEFAULT_RETENTION } from "../data/tables.js";

/** Every organizer action lands in the audit trail with who, when and what; against dynalite and the emulator. */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.close();
});

const ORGANIZER = { sub: "audit-organizer", email: "org@example.org" };

describe("the audit trail", () => {
  it("records revoke, top-up, re-allow, claim on behalf, pause/resume and exports, newest first, never a key", async () => {
    const w = testWorkshop("audited", stack.now(), { organizers: [ORGANIZER.email] });
    await stack.addWorkshop(w);
    const org = stack.issuer.tokenFor(ORGANIZER);
    const [fay, gus] = await Promise.all([stack.attendee("fay@example.com"), stack.attendee("gus@example.com")]);
    for (const p of [fay, gus]) expect((await stack.call("POST", `/api/workshops/${w.slug}/claim`, p.token)).status).toBe(201);

    const base = `/api/admin/workshops/${w.slug}`;
    const ok = async (method: string, path: string, body?: unknown) => {
      const res = await stack.call(method, `${base}${path}`, org, body);
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      return res.text();
    };
    await ok("POST", `/claims/${gus.sub}/top-up`, { amount_usd: 1.5 });
    await ok("POST", `/claims/${fay.sub}/revoke`);
    await ok("POST", `/claims/${fay.sub}/allow-again`);
    const behalf = JSON.parse(await ok("POST", "/claim-on-behalf", { email: "hal@example.com" })) as { key: { key: string } };
    await ok("POST", "/pause");
    await ok("POST", "/resume");
    await ok("GET", "/attendance.csv");
    // Refused actions change nothing and are not recorded; reads are not actions.
    expect((await stack.call("POST", `${base}/claims/${fay.sub}/top-up`, org, { amount_usd: 1 })).status).toBe(409);
    await ok("GET", "/claims");

    const { entries } = JSON.parse(await ok("GET", "/audit")) as { entries: Record<string, any>[] };
    expect(entries.map((e) => e.action)).toEqual(["export", "resume", "pause", "claim_on_behalf", "allow_again", "revoke", "top_up"]);
    expect(entries.every((e) => e.by === ORGANIZER.email && Number.isFinite(Date.parse(e.at)))).toBe(true);
    expect(entries.find((e) => e.action === "top_up")).toMatchObject({ user_id: gus.sub, email: "gus@example.com", details: { amount_usd: 1.5, limit_usd: 3.5 } });
    expect(entries.find((e) => e.action === "revoke")).toMatchObject({ user_id: fay.sub, email: "fay@example.com", details: { returned_usd: 2 } });
    expect(entries.find((e) => e.action === "claim_on_behalf")).toMatchObject({ email: "hal@example.com" });
    expect(entries.find((e) => e.action === "export")).toMatchObject({ details: { file: "attendance.csv" } });
    expect(JSON.stringify(entries)).not.toContain(behalf.key.key);

    // The CSV has every entry; downloading it is recorded too.
    const csv = await ok("GET", "/audit.csv");
    expect(csv.split("\r\n")[0]).toBe('"at","by","action","email","user_id","details"');
    expect(csv).toContain('"top_up","gus@example.com"');
    expect(csv).toContain('"amount_usd=1.5; limit_usd=3.5"');
    const after = JSON.parse(await ok("GET", "/audit")) as { entries: Record<string, any>[] };
    expect(after.entries[0]).toMatchObject({ action: "export", details: { file: "audit.csv" } });

    // Kept as long as the claims (they name attendees).
    const doc = DynamoDBDocumentClient.from(stack.dynamo.client);
    const raw = await doc.send(
      new QueryCommand({ TableName: stack.store.tableNames.workshops, KeyConditionExpression: "pk = :pk AND begins_with(sk, :a)", ExpressionAttributeValues: { ":pk": w.slug, ":a": "AUDIT#" } }),
    );
    const ttl = Math.floor(Date.parse(keyExpiresAt(w)) / 1000) + DEFAULT_RETENTION.afterKeyExpiryDays * 86_400;
    expect(raw.Items!.length).toBe(8);
    expect(raw.Items!.every((i) => i.ttl === ttl)).toBe(true);

    // Attendees see none of it.
    expect((await stack.call("GET", `${base}/audit`, fay.token)).status).toBe(403);
  });
});
