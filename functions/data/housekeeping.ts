import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { LiveUnspent } from "./ledger.js";
import type { SpendSample } from "./usage.js";
import { writeIf } from "./table.js";
import { DEFAULT_RETENTION, LEDGER_SK, ttlAfterKeyExpiry, type RetentionPolicy, type TableNames } from "./tables.js";

/**
 * The writes only the scheduled jobs make (layout in tables.ts). Each is conditional so that two
 * overlapping runs of a job, or a job run twice, leave the same items as one run. A key's usage,
 * which the owner's live read writes too, is the store's (`recordUsage`, same rule).
 */

export type Housekeeping = ReturnType<typeof createHousekeeping>;

export function createHousekeeping({ client, tableNames, retention = DEFAULT_RETENTION }: { client: DynamoDBClient; tableNames: TableNames; retention?: RetentionPolicy }) {
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const W = tableNames.workshops;

  return {
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

    /**
     * Keeps a sync's figure of what the workshop's live keys have not spent on its ledger, where the
     * credit check reads it with every other workshop's in one BatchGet. Only on an existing ledger
     * (no ledger, no claims), and never over a figure from a later sync (overlapping runs).
     */
    putLiveUnspent(slug: string, unspent: LiveUnspent): Promise<boolean> {
      return writeIf(() =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: { pk: slug, sk: LEDGER_SK },
            UpdateExpression: "SET #live_unspent = :unspent",
            ConditionExpression: "attribute_exists(#pk) AND (attribute_not_exists(#live_unspent) OR #live_unspent.#synced_at <= :at)",
            ExpressionAttributeNames: { "#pk": "pk", "#live_unspent": "live_unspent", "#synced_at": "synced_at" },
            ExpressionAttributeValues: { ":unspent": unspent, ":at": unspent.synced_at },
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
            Item: { pk: slug, sk: LEDGER_SK, claimed: 0, committed_usd: 0, paused: false },
            ConditionExpression: "attribute_not_exists(#pk)",
            ExpressionAttributeNames: { "#pk": "pk" },
          }),
        ),
      );
    },
  };
}
