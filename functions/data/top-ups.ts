import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { roundUsd } from "../../workshops/derive.js";
import type { ClaimItem } from "./claims.js";
import { ConditionRefusedError } from "./errors.js";
import { ledgerOf, type Ledger } from "./ledger.js";
import { Expression, stripKeys, type Table } from "./table.js";
import type { Partitions } from "./partitions.js";
import { LEDGER_SK } from "./tables.js";

/**
 * The writes of an organizer's top-up (domain/top-up.ts), one single-item conditional write each:
 * the amount is committed on the LEDGER only while it fits under the cap, and the claim's
 * `limit_usd` moves from the value the caller read under a per-claim `topup` lock, so top-ups of
 * one key reach OpenRouter one at a time and in order.
 */

export interface TopUpLock {
  /** The top-up holding the lock. */
  id: string;
  /** The limit before it (what a failed top-up puts back). */
  from_usd: number;
  amount_usd: number;
  /** Epoch ms: past it the lock may be taken by another top-up (its holder died). */
  until: number;
}


const KEY_HOLDING = ["MINTED", "ACTIVE", "UNBOUND"] as const;

export function topUpStore(table: Table, partitions: Pick<Partitions, "claimKey">) {
  const { doc, W, conditional } = table;

  async function addCommitted(operation: string, slug: string, amountUsd: number, condition: (e: Expression, committed: string) => string): Promise<Ledger> {
    const e = new Expression();
    const committed = e.name("committed_usd");
    const key = { pk: slug, sk: LEDGER_SK };
    try {
      const res = await conditional<Ledger>(operation, W, key, () =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: key,
            UpdateExpression: `ADD ${committed} ${e.value(amountUsd)}`,
            ConditionExpression: condition(e, committed),
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
      return ledgerOf((res as { Attributes?: Record<string, unknown> }).Attributes);
    } catch (err) {
      if (err instanceof ConditionRefusedError) throw new ConditionRefusedError<Ledger>(err.operation, err.key, ledgerOf(err.existing as Record<string, unknown> | undefined), err.cause);
      throw err;
    }
  }

  return {
    /**
     * Commits a top-up's amount to the pool: refused (ConditionRefusedError with the ledger) unless
     * `committed_usd + amount <= cap_usd`. The only write that raises committed USD besides a claim.
     * It leaves `committed_ever_usd` alone: the caller adds to it once the claim shows the raised
     * limit (`addCommittedEver`; see ledger.ts reserveSlot for why that order).
     */
    commitTopUp(slug: string, amountUsd: number, capUsd: number): Promise<Ledger> {
      return addCommitted("commitTopUp", slug, amountUsd, (e, committed) => `attribute_exists(${committed}) AND ${committed} <= ${e.value(roundUsd(capUsd - amountUsd))}`);
    },

    /** Gives a top-up's amount back (it never reached the key). */
    returnTopUp(slug: string, amountUsd: number): Promise<Ledger> {
      return addCommitted("returnTopUp", slug, -amountUsd, (e, committed) => `${committed} >= ${e.value(amountUsd)}`);
    },

    /**
     * Raises the claim's limit from `fromUsd` by the lock's amount and takes the claim's top-up lock:
     * only while the claim holds `keyHash` live, still has the limit the caller read, and no other
     * top-up holds the lock (or its holder is past `until`).
     */
    async lockTopUp(slug: string, userId: string, keyHash: string, lock: TopUpLock, nowMs: number): Promise<ClaimItem> {
      const e = new Expression();
      const key = await partitions.claimKey(slug, userId);
      const topup = e.name("topup");
      const condition = [
        `${e.name("status")} IN (${KEY_HOLDING.map((s) => e.value(s)).join(", ")})`,
        `${e.name("key_hash")} = ${e.value(keyHash)}`,
        `${e.name("limit_usd")} = ${e.value(lock.from_usd)}`,
        `(attribute_not_exists(${topup}) OR ${topup}.${e.name("until")} <= ${e.value(nowMs)})`,
      ].join(" AND ");
      const res = await conditional<ClaimItem>("lockTopUp", W, key, () =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: key,
            UpdateExpression: `SET ${e.name("limit_usd")} = ${e.value(roundUsd(lock.from_usd + lock.amount_usd))}, ${topup} = ${e.value(lock)}`,
            ConditionExpression: condition,
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
      return stripKeys<ClaimItem>((res as { Attributes?: Record<string, unknown> }).Attributes)!;
    },

    /**
     * Ends the top-up `lockId`: `set` records what OpenRouter answered (done) or puts the old limit
     * back (undone: then also only while the claim still holds a live key, since a revoke meanwhile
     * has already given back what the raised limit did not spend).
     */
    async unlockTopUp(slug: string, userId: string, lockId: string, set: Partial<Pick<ClaimItem, "limit_usd" | "limit_remaining" | "usage_usd" | "updated_at">>, opts: { onlyLive?: boolean } = {}): Promise<ClaimItem> {
      const e = new Expression();
      const key = await partitions.claimKey(slug, userId);
      const topup = e.name("topup");
      const sets = Object.entries(set)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${e.name(k)} = ${e.value(v)}`);
      const condition = [
        `${topup}.${e.name("id")} = ${e.value(lockId)}`,
        opts.onlyLive ? `${e.name("status")} IN (${KEY_HOLDING.map((s) => e.value(s)).join(", ")})` : undefined,
      ]
        .filter(Boolean)
        .join(" AND ");
      const res = await conditional<ClaimItem>("unlockTopUp", W, key, () =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: key,
            UpdateExpression: `${sets.length ? `SET ${sets.join(", ")} ` : ""}REMOVE ${topup}`,
            ConditionExpression: condition,
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
      return stripKeys<ClaimItem>((res as { Attributes?: Record<string, unknown> }).Attributes)!;
    },
  };
}
