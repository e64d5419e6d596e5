import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { LEDGER_SK } from "../../functions/data/tables.js";
import type { Workshop } from "../../workshops/schema.js";
import { benchWorkshop } from "./claims.js";
import type { BenchRig } from "./rig.js";
import { seedClaims } from "./scale.js";

/**
 * Housekeeping of many live workshops at once (issue #24): one deployment-wide sync tick against
 * what the same workshops cost as independent per-workshop syncs, each figure counted by the rig's
 * counters (DynamoDB read calls and the items they answered, GET /keys pages upstream).
 *
 * "Before" is the per-workshop sync as it was until the tick: each sync's credit check also listed
 * the claims of every other live workshop (`store.listClaims`, skipped only for a ledger with no
 * claim). It is measured as today's per-workshop sync job plus exactly those listings, run through
 * the same store and counter. Today's sync reads one ledger item more than the old one did (its
 * live-unspent baseline), so "before" is overstated by one read and one item per workshop.
 */

export interface ReadFigures {
  /** DynamoDB read calls (GetItem, BatchGetItem, Query pages). */
  reads: number;
  /** Items those calls answered. */
  items: number;
  /** GET /keys pages upstream. */
  listPages: number;
  ms: number;
}

export interface TickFigures {
  workshops: number;
  claimsPerWorkshop: number;
  tick: ReadFigures;
  /** Today's per-workshop sync job, once per workshop. */
  independent: ReadFigures;
  /** ... plus the other workshops' claim listings each sync's credit check made before the tick. */
  before: ReadFigures;
}

/** `n` workshops open now, each with `claims` ACTIVE claims, their keys upstream and their ledger. */
export async function seedLiveWorkshops(rig: BenchRig, n: number, claims: number, prefix = "tick"): Promise<Workshop[]> {
  const doc = DynamoDBDocumentClient.from(rig.dynamo.client);
  const out: Workshop[] = [];
  for (let i = 0; i < n; i++) {
    const w = benchWorkshop(`${prefix}-${i}`, claims + 10);
    await rig.openWorkshop(w);
    await seedClaims(rig.dynamo.client, rig.names, w, claims, rig.upstream.emulator.state);
    // The ledger the claim engine would have left: every seeded claim holds a slot and its budget.
    const committed = claims * w.openrouter.budget_usd;
    await doc.send(
      new UpdateCommand({
        TableName: rig.names.workshops,
        Key: { pk: w.slug, sk: LEDGER_SK },
        UpdateExpression: "SET claimed = :n, committed_usd = :c, committed_ever_usd = :c",
        ExpressionAttributeValues: { ":n": claims, ":c": committed },
      }),
    );
    out.push(w);
  }
  return out;
}

async function counted(rig: BenchRig, work: () => Promise<void>): Promise<ReadFigures> {
  rig.resetCounters();
  const t = performance.now();
  await work();
  return { reads: rig.counters.reads, items: rig.counters.itemsRead, listPages: rig.counters.upstream.get("keys.list") ?? 0, ms: Math.round(performance.now() - t) };
}

/**
 * Seeds `workshops` × `claims`, brings every claim's usage up to date once (the first sync writes
 * it all), then counts one tick, and the same workshops synced one by one.
 */
export async function measureTick(rig: BenchRig, workshops: number, claims: number): Promise<TickFigures> {
  const live = await seedLiveWorkshops(rig, workshops, claims);
  const first = await rig.tick();
  if (!first.ok || first.runs.length !== workshops) throw new Error(`the first tick failed: ${first.errors.join("; ")} ${first.runs.flatMap((r) => r.errors).join("; ")}`);

  const tick = await counted(rig, async () => {
    const summary = await rig.tick();
    if (!summary.ok || summary.runs.length !== workshops) throw new Error(`the tick failed: ${summary.errors.join("; ")}`);
  });
  const independent = await counted(rig, async () => {
    for (const w of live) {
      const summary = await rig.job("sync", w.slug);
      if (!summary.ok) throw new Error(`sync of ${w.slug} failed: ${summary.errors.join("; ")}`);
    }
  });
  const othersListed = await counted(rig, async () => {
    for (const w of live) for (const other of live) if (other.slug !== w.slug) await rig.store.listClaims(other.slug);
  });
  const before: ReadFigures = {
    reads: independent.reads + othersListed.reads,
    items: independent.items + othersListed.items,
    listPages: independent.listPages,
    ms: independent.ms + othersListed.ms,
  };
  return { workshops, claimsPerWorkshop: claims, tick, independent, before };
}
