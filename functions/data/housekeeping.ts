import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { SpendSample } from "./store.js";
import { DEFAULT_RETENTION, ttlAfterKeyExpiry, type RetentionPolicy, type TableNames } from "./tables.js";

/**
 * The writes only the scheduled jobs make (layout in tables.ts). Each is conditional so that two
 * overlapping runs of a job, or a job run twice, leave the same items as one run:
 *
 *   sync A reads usage 1.20 ─┐            ┌─ writes 1.20 (refused: 1.35 is newer)
 *   sync B reads usage 1.35 ─┼─ writes 1.35
 *
 * Usage upstream only grows (keys never reset), so "never lower a stored figure" is the rule that
 * makes the later observation win whatever order the writes land in.
 */

export interface UsageObservation {
  /** The claim's key as the sync matched it; a claim re-minted since then is not touched. */
  keyHash: string;
  usageUsd: number;
  limitRemaining: number | null;
  /** ISO time of the observation. */
  syncedAt: string;
}

export type Housekeeping = ReturnType<typeof createHousekeeping>;

/**
 * The write of a key's usage to its claim (the jobs' sync and the owner's live read share it).
 * Refused when the claim no longer holds that key or already holds a figure at least as recent
 * (higher usage).
 */
export function usageUpdate(table: string, slug: string, userId: string, seen: UsageObservation) {
  return {
    TableName: table,
    Key: { pk: slug, sk: `CLAIM#${userId}` },
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
  };
}

function isConditionalFailure(err: unknown): boolean {
  return err instanceof Error && err.name === "ConditionalCheckFailedException";
}

/** Runs a conditional write; answers false when the condition refused it (someone got there first). */
async function writeIf(send: () => Promise<unknown>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (err) {
    if (isConditionalFailure(err)) return false;
    throw err;
  }
}

export function createHousekeeping({ client, tableNames, retention = DEFAULT_RETENTION }: { client: DynamoDBClient; tableNames: TableNames; retention?: RetentionPolicy }) {
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const W = tableNames.workshops;

  return {
    /**
     * Writes a key's usage to its claim. Refused (false) when the claim no longer holds that key or
     * already holds a figure at least as recent (higher usage).
     */
    recordUsage(slug: string, userId: string, seen: UsageObservation): Promise<boolean> {
      return writeIf(() => doc.send(new UpdateCommand(usageUpdate(W, slug, userId, seen))));
    },

    /**
     * Records the spend sample of one sync period. Samples are keyed by the period, not the run, so
     * overlapping or repeated syncs of a period leave one sample: the one with the most spend seen.
     * `keyExpiresAt`: the workshop's key expiry; the chart is kept a grace period after it (`ttl`).
     */
    putSpendSample(slug: string, sample: SpendSample, keyExpiresAt: string): Promise<boolean> {
      return writeIf(() =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: { pk: slug, sk: `SPEND#${sample.at}` },
            UpdateExpression: "SET #at = :at, #usage_usd = :usage, #keys = :keys, #ttl = :ttl",
            ConditionExpression:
              "attribute_not_exists(#pk) OR #usage_usd < :usage OR (#usage_usd = :usage AND #keys < :keys)",
            ExpressionAttributeNames: { "#pk": "pk", "#at": "at", "#usage_usd": "usage_usd", "#keys": "keys", "#ttl": "ttl" },
            ExpressionAttributeValues: { ":at": sample.at, ":usage": sample.usage_usd, ":keys": sample.keys, ":ttl": ttlAfterKeyExpiry(keyExpiresAt, retention) },
          }),
        ),
      );
    },

    /** Creates the workshop's ledger at zero when it has none. Answers whether it created it. */
    ensureLedger(slug: string): Promise<boolean> {
      return writeIf(() =>
        doc.send(
          new PutCommand({
            TableName: W,
            Item: { pk: slug, sk: "LEDGER", claimed: 0, committed_usd: 0, paused: false },
            ConditionExpression: "attribute_not_exists(#pk)",
            ExpressionAttributeNames: { "#pk": "pk" },
          }),
        ),
      );
    },
  };
}
