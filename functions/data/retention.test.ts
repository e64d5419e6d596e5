import { DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyExpiresAt } from "../../workshops/derive.js";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import { attemptWindow } from "../domain/attempts.js";
import { runJob } from "../jobs/run.js";
import { createHousekeeping } from "./housekeeping.js";
import { createStore } from "./store.js";
import { DEFAULT_RETENTION } from "./tables.js";

/**
 * Every item that holds personal data or a key carries `ttl` (epoch seconds), so DynamoDB deletes it
 * even if the expire job never runs. dynalite does not expire items, so this reads the raw items the
 * real flow wrote (sign-in, confirm step, claim, a sync) and checks the attribute on every kind.
 */

const DAY_S = 86_400;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

async function rawItems(table: string): Promise<Record<string, unknown>[]> {
  const doc = DynamoDBDocumentClient.from(stack.dynamo.client);
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

const kindOf = (item: Record<string, unknown>) => String(item.sk).replace(/#.*$/, "");

describe("ttl on every item kind", () => {
  it("claims, email locks and spend samples expire a grace period after the keys; profiles and consents a retention period after they were written; attempt counters an hour after their window", async () => {
    const w = testWorkshop("retention", stack.now());
    await stack.addWorkshop(w);
    const token = stack.issuer.tokenFor({ sub: "ret-ada", email: "Ada.Lovelace+x@gmail.com", name: "Ada" });
    const before = Math.floor(Date.now() / 1000);
    expect((await stack.call("GET", "/api/me", token)).status).toBe(200);
    expect((await stack.call("PUT", "/api/me", token, { display_name: "Ada", marketing_opted_in: true, workshop: w.slug })).status).toBe(200);
    expect((await stack.call("POST", `/api/workshops/${w.slug}/claim`, token)).status).toBe(201);
    // The claim that creates the key writes no attempt counter; a repeat does.
    expect((await stack.call("POST", `/api/workshops/${w.slug}/claim`, token)).status).toBe(200);
    const housekeeping = createHousekeeping({ client: stack.dynamo.client, tableNames: stack.store.tableNames });
    const sync = await runJob({ job: "sync", slug: w.slug }, { store: stack.store, housekeeping, engine: stack.engine, openrouter: stack.openrouter, now: stack.now });
    expect(sync.ok, sync.errors.join("; ")).toBe(true);
    const after = Math.floor(Date.now() / 1000);

    const afterKeys = Math.floor(Date.parse(keyExpiresAt(w)) / 1000) + DEFAULT_RETENTION.afterKeyExpiryDays * DAY_S;
    // The workshop's own partition, and its CONFIG item in the deploy's partition (tables.ts).
    const items = (await rawItems(stack.store.tableNames.workshops)).filter((i) => i.pk === w.slug || i.sk === `CONFIG#${w.slug}`);
    const byKind = new Map<string, Record<string, unknown>[]>();
    for (const i of items) byKind.set(kindOf(i), [...(byKind.get(kindOf(i)) ?? []), i]);
    expect([...byKind.keys()].sort()).toEqual(["ATTEMPTS", "CLAIM", "CONFIG", "CONSENT", "EMAIL", "LEDGER", "SPEND"]);

    for (const kind of ["CLAIM", "EMAIL", "SPEND"]) {
      for (const item of byKind.get(kind)!) expect(item.ttl, kind).toBe(afterKeys);
    }
    for (const item of byKind.get("CONSENT")!) {
      expect(item.ttl).toBeGreaterThanOrEqual(before + DEFAULT_RETENTION.attendeeDays * DAY_S);
      expect(item.ttl).toBeLessThanOrEqual(after + DEFAULT_RETENTION.attendeeDays * DAY_S);
    }
    // A person's attempt counter is of no use once its window has passed.
    for (const item of byKind.get("ATTEMPTS")!) {
      expect([attemptWindow(w, before * 1000).endsAt, attemptWindow(w, after * 1000 + 999).endsAt]).toContain(item.window_ends_at);
      expect(item.ttl).toBe(Math.floor(Number(item.window_ends_at) / 1000) + 3600);
    }
    // The deploy owns the workshop item; the ledger is counts only.
    for (const kind of ["CONFIG", "LEDGER"]) for (const item of byKind.get(kind)!) expect(item.ttl, kind).toBeUndefined();

    const attendee = (await rawItems(stack.store.tableNames.attendees)).find((i) => i.user_id === "ret-ada")!;
    expect(attendee.ttl).toBeGreaterThanOrEqual(before + DEFAULT_RETENTION.attendeeDays * DAY_S);
    expect(attendee.ttl).toBeLessThanOrEqual(after + DEFAULT_RETENTION.attendeeDays * DAY_S);
    // The room-code secret must outlive every workshop: deleting it would change every code on screen.
    await stack.store.roomCodeSecret(stack.now());
    const secretItem = (await rawItems(stack.store.tableNames.workshops)).find((i) => i.sk === "ROOM_CODE_SECRET")!;
    expect(secretItem.secret).toEqual(expect.any(String));
    expect(secretItem.ttl).toBeUndefined();
    // `ttl` is storage bookkeeping: the domain objects handed out never carry it.
    expect(await stack.store.getClaim(w.slug, "ret-ada")).not.toHaveProperty("ttl");
  });

  it("a sign-in restarts the attendee's retention period, and the period is configurable", async () => {
    const store = createStore({ client: stack.dynamo.client, tableNames: stack.store.tableNames, retention: { attendeeDays: 7, afterKeyExpiryDays: 1 } });
    const t0 = Date.parse("2030-01-01T00:00:00Z");
    await store.confirmProfile("ret-short", { displayName: "Short" }, t0);
    const ttlOf = async () => (await rawItems(stack.store.tableNames.attendees)).find((i) => i.user_id === "ret-short")!.ttl;
    expect(await ttlOf()).toBe(t0 / 1000 + 7 * DAY_S);
    await store.recordSeen({ userId: "ret-short", emailVerified: true }, t0 + 3 * DAY_S * 1000);
    expect(await ttlOf()).toBe(t0 / 1000 + 10 * DAY_S);
    await store.recordConsent("retention", "ret-short", false, t0);
    const consent = (await rawItems(stack.store.tableNames.workshops)).find((i) => i.sk === "CONSENT#ret-short")!;
    expect(consent.ttl).toBe(t0 / 1000 + 7 * DAY_S);
  });
});
