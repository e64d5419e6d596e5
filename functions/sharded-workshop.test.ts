import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerFromClaims } from "../local/ledger-accounts.js";
import { startBenchRig, type BenchRig } from "../local/bench/rig.js";
import { testWorkshop } from "../local/test-stack.js";
import { CLAIM_SHARD_PLACES, claimShards, keyNamePrefix } from "../workshops/derive.js";

/**
 * A workshop above CLAIM_SHARD_PLACES places keeps its claims, email locks and attempt counters in
 * several partitions (pk = <slug>#<hex>) and its ledger in its own (pk = <slug>); one at or below
 * it keeps today's layout. Claimed through the real local stack (dynalite, the emulator, the API over
 * loopback HTTP, the jobs runner): every reader of claims (the organizer's list and CSV, the sync
 * job, the owner's key page) sees every claim, one person still gets one key, and the ledger counts
 * exactly the keys handed out.
 */

const ATTENDEES = 40;
let rig: BenchRig;

beforeAll(async () => {
  rig = await startBenchRig({ seed: 2424 });
});
afterAll(async () => {
  await rig?.close();
});

const big = testWorkshop("sharded-room", Date.now(), { openrouter: { budget_usd: 1, guardrail: { cap_usd: 2_500, reset_interval: "monthly", max_keys: 2_500 } } });
const small = testWorkshop("one-partition", Date.now(), { openrouter: { budget_usd: 1, guardrail: { cap_usd: CLAIM_SHARD_PLACES, reset_interval: "monthly", max_keys: CLAIM_SHARD_PLACES } } });

async function itemsOf(slug: string): Promise<Record<string, unknown>[]> {
  const doc = DynamoDBDocumentClient.from(rig.dynamo.client);
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: rig.names.workshops, ExclusiveStartKey: start }));
    out.push(...(page.Items ?? []).filter((i) => String(i.pk) === slug || String(i.pk).startsWith(`${slug}#`)));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}
const pksOf = (items: Record<string, unknown>[], kind: string) => new Set(items.filter((i) => String(i.sk).startsWith(kind)).map((i) => String(i.pk)));
const claim = (slug: string, token: string) => rig.request("POST", `/api/workshops/${slug}/claim`, token);

describe("a workshop above the shard size", () => {
  it("is sharded by its places, and one at the size is not", () => {
    expect(claimShards(big)).toBe(3);
    expect(claimShards(small)).toBe(1);
  });

  it("spreads claims, email locks and attempt counters over its partitions; every reader sees every claim; one key per person; the ledger is exact", { timeout: 120_000 }, async () => {
    await rig.openWorkshop(big);
    const users = await rig.attendees("sharded", ATTENDEES);
    // Everyone at once, and the first one twice more at the same time: still one key for them.
    const answers = await Promise.all([...users.map((u) => claim(big.slug, u.token)), claim(big.slug, users[0]!.token), claim(big.slug, users[0]!.token)]);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(ATTENDEES);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
    const keys = answers.map((a) => (JSON.parse(a.text) as { key: { key: string } }).key.key);
    expect(new Set(keys).size).toBe(ATTENDEES);
    expect(rig.upstream.emulator.state.keys.filter((k) => k.name.startsWith(keyNamePrefix(big)))).toHaveLength(ATTENDEES);

    // Where the items landed: the per-person items on every shard, nothing of them on <slug>.
    const items = await itemsOf(big.slug);
    const shards = new Set([0, 1, 2].map((i) => `${big.slug}#${i}`));
    expect(pksOf(items, "CLAIM#")).toEqual(shards);
    expect(pksOf(items, "EMAIL#")).toEqual(shards);
    expect([...pksOf(items, "ATTEMPTS#")].every((pk) => shards.has(pk))).toBe(true);
    expect(pksOf(items, "LEDGER")).toEqual(new Set([big.slug]));
    expect(items.filter((i) => String(i.sk).startsWith("CLAIM#"))).toHaveLength(ATTENDEES);

    // The ledger counts exactly the keys handed out.
    const claims = await rig.store.listClaims(big.slug);
    expect(claims).toHaveLength(ATTENDEES);
    expect(claims.every((c) => c.slug === big.slug && c.status === "ACTIVE")).toBe(true);
    const ledger = await rig.store.getLedger(big.slug);
    expect(ledger).toMatchObject({ claimed: ATTENDEES, committed_usd: ATTENDEES * big.openrouter.budget_usd });
    expect(ledgerFromClaims(claims)).toMatchObject({ claimed: ledger.claimed, committed_usd: ledger.committed_usd });

    // The organizer's list and attendance CSV, and the owner's key page, read every shard.
    const organizer = rig.issuer.tokenFor({ sub: "sharded-organizer", email: "organizer@example.com" });
    const list = await rig.request("GET", `/api/admin/workshops/${big.slug}/claims`, organizer);
    expect(list.status, list.text).toBe(200);
    const listed = JSON.parse(list.text) as { claims: { email: string }[]; totals: { claimed: number } };
    expect(listed.claims.map((c) => c.email).sort()).toEqual(users.map((u) => u.email).sort());
    expect(listed.totals.claimed).toBe(ATTENDEES);
    const csv = await rig.request("GET", `/api/admin/workshops/${big.slug}/attendance.csv`, organizer);
    expect(csv.status).toBe(200);
    for (const u of users) expect(csv.text).toContain(u.email);
    for (const u of users.slice(0, 5)) expect((await rig.request("GET", `/api/workshops/${big.slug}/key`, u.token)).status).toBe(200);

    // Spend on a few keys; the sync job finds every key's claim (none taken for an orphan) and records the usage.
    const spenders = keys.slice(0, 6);
    for (const key of spenders) {
      const res = await fetch(`${rig.upstream.url}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: big.openrouter.models[0]!.id, messages: [{ role: "user", content: "hello" }], max_tokens: 50 }),
      });
      expect(res.status).toBe(200);
    }
    const sync = await rig.job("sync", big.slug);
    expect(sync.ok, sync.errors.join("; ")).toBe(true);
    expect(sync).toMatchObject({ keys: ATTENDEES, orphans_deleted: 0 });
    expect(sync.missing_upstream ?? 0).toBe(0);
    const synced = await rig.store.listClaims(big.slug);
    expect(synced.filter((c) => c.usage_usd > 0)).toHaveLength(spenders.length);
    expect(rig.upstream.emulator.state.keys.filter((k) => k.name.startsWith(keyNamePrefix(big)) && !k.disabled)).toHaveLength(ATTENDEES);

    // An email already claimed under another account is still refused (its lock is on its own shard).
    const twin = await rig.attendees("sharded-twin", 1);
    await rig.store.confirmProfile("sharded-twin-x", { displayName: "twin" }, Date.now());
    const otherAccount = rig.issuer.tokenFor({ sub: "sharded-twin-x", email: users[7]!.email.toUpperCase() });
    const refused = await claim(big.slug, otherAccount);
    expect(refused.status, refused.text).toBe(409);
    expect(JSON.parse(refused.text).error.code).toBe("email_already_claimed");
    expect((await claim(big.slug, twin[0]!.token)).status).toBe(201);
    expect((await rig.store.getLedger(big.slug)).claimed).toBe(ATTENDEES + 1);
  });

  it("keeps a workshop at the size in one partition, as before", { timeout: 60_000 }, async () => {
    await rig.openWorkshop(small);
    const users = await rig.attendees("one-partition", 6);
    for (const u of users) expect((await claim(small.slug, u.token)).status).toBe(201);
    const items = await itemsOf(small.slug);
    expect(pksOf(items, "CLAIM#")).toEqual(new Set([small.slug]));
    expect(pksOf(items, "EMAIL#")).toEqual(new Set([small.slug]));
    expect(await rig.store.listClaims(small.slug)).toHaveLength(users.length);
  });
});
