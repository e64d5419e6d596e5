import { DeleteCommand, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { Expression, isConditionalFailure, type Table } from "./table.js";
import type { Partitions } from "./partitions.js";
import { ttlAfterKeyExpiry } from "./tables.js";

/**
 * The normalized-email locks: one claim per person per workshop. The lock is written only after its
 * claim's slot was reserved, and records that claim's attempt: a lock naming a claim's current
 * attempt is the proof that the claim holds its slot.
 */

/** Who holds a normalized email in a workshop, and for which attempt of their claim. */
export interface EmailLock {
  user_id: string;
  /** The claim attempt that reserved the slot before writing this lock (absent: proves nothing). */
  attempt?: string;
}

export function emailLockStore(table: Table, partitions: Pick<Partitions, "emailKey">) {
  const { doc, direct, W, retention, conditional } = table;

  return {
    /**
     * Refused (with the holder `{user_id, attempt}`) when another user holds this normalized email here.
     * `keyExpiresAt`: the claim's key expiry; the lock is needed until then (its `ttl`).
     */
    async lockEmail(slug: string, emailNormalized: string, userId: string, attempt: string | undefined, keyExpiresAt: string): Promise<void> {
      const e = new Expression();
      const key = await partitions.emailKey(slug, emailNormalized);
      await conditional<EmailLock>("lockEmail", W, key, () =>
        direct.put({
          TableName: W,
          Item: { ...key, user_id: userId, ...(attempt === undefined ? {} : { attempt }), ttl: ttlAfterKeyExpiry(keyExpiresAt, retention) },
          ConditionExpression: `attribute_not_exists(${e.name("pk")}) OR ${e.name("user_id")} = ${e.value(userId)}`,
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          ...e.params(),
        }),
      );
    },

    /**
     * Hands this user's lock from one attempt of their claim to the next (a take-over). Refused when
     * the lock is missing or names another user or attempt: then nothing proves the claim's slot.
     */
    async repointEmailLock(slug: string, emailNormalized: string, userId: string, fromAttempt: string, toAttempt: string): Promise<void> {
      const e = new Expression();
      const key = await partitions.emailKey(slug, emailNormalized);
      await conditional<EmailLock>("repointEmailLock", W, key, () =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: key,
            UpdateExpression: `SET ${e.name("attempt")} = ${e.value(toAttempt)}`,
            ConditionExpression: `${e.name("user_id")} = ${e.value(userId)} AND ${e.name("attempt")} = ${e.value(fromAttempt)}`,
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
    },

    /**
     * Releases the lock only if this user holds it for this attempt: a stale attempt (a release
     * racing the same user's newer claim) never removes the newer claim's lock.
     * Answers whether a lock was removed.
     */
    async unlockEmail(slug: string, emailNormalized: string, userId: string, attempt: string): Promise<boolean> {
      const e = new Expression();
      const key = await partitions.emailKey(slug, emailNormalized);
      try {
        await doc.send(
          new DeleteCommand({
            TableName: W,
            Key: key,
            ConditionExpression: `${e.name("user_id")} = ${e.value(userId)} AND ${e.name("attempt")} = ${e.value(attempt)}`,
            ...e.params(),
          }),
        );
        return true;
      } catch (err) {
        // Someone else's lock, another attempt's, or none: nothing of ours to release.
        if (!isConditionalFailure(err)) throw err;
        return false;
      }
    },

    async getEmailLock(slug: string, emailNormalized: string): Promise<EmailLock | undefined> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: await partitions.emailKey(slug, emailNormalized), ConsistentRead: true }));
      if (!got.Item) return undefined;
      return { user_id: String(got.Item.user_id), ...(typeof got.Item.attempt === "string" ? { attempt: got.Item.attempt } : {}) };
    },
  };
}
