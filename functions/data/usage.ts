import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { ClaimItem, ClaimStatus } from "./claims.js";
import { Expression, isConditionalFailure, stripKeys, type Table } from "./table.js";
import type { Partitions } from "./partitions.js";

/** What keys spent: the usage written to claims (the jobs' sync, the owner's live read) and the dashboard's spend samples. */

/** A key's usage as upstream reported it, for its claim (`recordUsage`). */
export interface UsageObservation {
  /** The claim's key as the caller matched it; a claim re-minted since then is not touched. */
  keyHash: string;
  usageUsd: number;
  limitRemaining: number | null;
  /** ISO time of the observation. */
  syncedAt: string;
}

export interface SpendSample {
  at: string;
  usage_usd: number;
  keys: number;
}

const spendSampleOf = (item: Record<string, unknown>): SpendSample => ({
  at: String(item.at),
  usage_usd: Number(item.usage_usd),
  keys: Number(item.keys),
});

export function usageStore(table: Table, partitions: Pick<Partitions, "claimKey">) {
  const { doc, W, queryWorkshopItems } = table;

  return {
    /**
     * The owner's live usage read, rate-limited: records `atMs` as the claim's last check unless one
     * happened less than `minIntervalMs` ago or the claim holds no live key. Answers the claim when
     * this caller may read upstream now, undefined when not.
     */
    async startUsageCheck(slug: string, userId: string, atMs: number, minIntervalMs: number, liveStatuses: readonly ClaimStatus[]): Promise<ClaimItem | undefined> {
      const e = new Expression();
      const key = await partitions.claimKey(slug, userId);
      const checked = e.name("usage_checked_at");
      try {
        const res = await doc.send(
          new UpdateCommand({
            TableName: W,
            Key: key,
            UpdateExpression: `SET ${checked} = ${e.value(atMs)}`,
            ConditionExpression: [
              `attribute_exists(${e.name("pk")})`,
              `${e.name("status")} IN (${liveStatuses.map((s) => e.value(s)).join(", ")})`,
              `(attribute_not_exists(${checked}) OR ${checked} <= ${e.value(atMs - minIntervalMs)})`,
            ].join(" AND "),
            ReturnValues: "ALL_NEW",
            ...e.params(),
          }),
        );
        return stripKeys<ClaimItem>(res.Attributes);
      } catch (err) {
        if (isConditionalFailure(err)) return undefined;
        throw err;
      }
    },

    /**
     * Writes a key's observed usage to its claim (the jobs' sync and the owner's live read). Refused
     * (false) when the claim no longer holds that key or already holds a figure at least as recent:
     *
     *   sync A reads usage 1.20 ─┐            ┌─ writes 1.20 (refused: 1.35 is newer)
     *   sync B reads usage 1.35 ─┼─ writes 1.35
     *
     * Usage upstream only grows (keys never reset), so "never lower a stored figure" is the rule that
     * makes the later observation win whatever order the writes land in.
     */
    async recordUsage(slug: string, userId: string, seen: UsageObservation): Promise<boolean> {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: W,
            Key: await partitions.claimKey(slug, userId),
            UpdateExpression:
              `SET #usage_usd = :usage, #usage_synced_at = :at` +
              (seen.limitRemaining === null ? " REMOVE #limit_remaining" : ", #limit_remaining = :remaining"),
            ConditionExpression: "attribute_exists(#pk) AND #key_hash = :hash AND (attribute_not_exists(#usage_usd) OR #usage_usd <= :usage)",
            ExpressionAttributeNames: {
              "#pk": "pk",
              "#key_hash": "key_hash",
              "#usage_usd": "usage_usd",
              "#usage_synced_at": "usage_synced_at",
              "#limit_remaining": "limit_remaining",
            },
            ExpressionAttributeValues: {
              ":hash": seen.keyHash,
              ":usage": seen.usageUsd,
              ":at": seen.syncedAt,
              ...(seen.limitRemaining === null ? {} : { ":remaining": seen.limitRemaining }),
            },
          }),
        );
        return true;
      } catch (err) {
        if (isConditionalFailure(err)) return false;
        throw err;
      }
    },

    // ── spend samples for the dashboard chart ───────────────────────────────────────────────────
    async listSpendSamples(slug: string): Promise<SpendSample[]> {
      return (await queryWorkshopItems(slug, { prefix: "SPEND#" }, { consistent: false })).map(spendSampleOf);
    },

    /** The newest spend sample (the last sync's total), without reading the others. */
    async latestSpendSample(slug: string): Promise<SpendSample | undefined> {
      const [item] = await queryWorkshopItems(slug, { prefix: "SPEND#" }, { consistent: false, newestFirst: true, limit: 1 });
      return item ? spendSampleOf(item) : undefined;
    },
  };
}
