import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { Expression, stripKeys, type Table } from "./table.js";
import type { Partitions } from "./partitions.js";
import { claimSk, ttlAfterKeyExpiry } from "./tables.js";

/** The claim items, one per (workshop, user): the state machine of DESIGN.md and its transitions. */

export type ClaimStatus = "RESERVED" | "MINTED" | "ACTIVE" | "UNBOUND" | "RELEASED" | "REVOKED" | "EXPIRED";

export const CLAIM_STATUSES: readonly ClaimStatus[] = [
  "RESERVED",
  "MINTED",
  "ACTIVE",
  "UNBOUND",
  "RELEASED",
  "REVOKED",
  "EXPIRED",
];

export interface ClaimItem {
  slug: string;
  user_id: string;
  email: string;
  email_normalized: string;
  display_name?: string;
  /** Deterministic from (slug, user): the key name is derived from it. */
  claim_id: string;
  status: ClaimStatus;
  key_name: string;
  key_hash?: string;
  /** Plaintext; returned only to its owner; removed at expiry and revocation. */
  key?: string;
  limit_usd: number;
  /** UTC with seconds. */
  expires_at: string;
  guardrail_id?: string;
  bound_at?: string;
  usage_usd: number;
  limit_remaining?: number;
  usage_synced_at?: string;
  reserved_at: string;
  /** Epoch ms; a RESERVED claim past its lease may be taken over. */
  lease_until: number;
  /** Identifies the attempt that holds the RESERVED lease (a fresh id per reservation or take-over). */
  attempt: string;
  claimed_at: string;
  updated_at: string;
  released_at?: string;
  revoked_at?: string;
  /**
   * Revoked claims only: the unspent budget given back to the pool (0 when what the key spent could
   * not be read). Absent until the give-back is done.
   */
  returned_usd?: number;
  /** Epoch ms of the last live usage read the owner asked for (rate-limits them). */
  usage_checked_at?: number;
  expired_at?: string;
  /** When the jobs deleted the key upstream, its usage being final (jobs/plan.ts `planRetire`). */
  key_deleted_at?: string;
  last_error?: string;
  /** Why the key is UNBOUND, in plain words for organizers (domain/unbound.ts). */
  unbound_reason?: string;
  /**
   * What earlier keys of this claim spent, when upstream lost them and the claim got a new key in
   * the same slot (domain/claims.ts, reissue): part of `usage_usd`, and no longer in the new key's limit.
   */
  carried_usage_usd?: number;
  reissued_at?: string;
  /** A claim an organizer made for an email (domain/reallow.ts): who handed the key out. */
  handed_out_by?: string;
  /** An organizer allowed this person one new key after a revoke (domain/reallow.ts); cleared when they claim it. */
  reallowed_at?: string;
  /** The revoked keys this claim held before the current one (domain/reallow.ts): what each spent stays committed. */
  earlier_keys?: EarlierKey[];
  /** While an organizer's top-up is raising the key's limit upstream (data/top-ups.ts). */
  topup?: import("./top-ups.js").TopUpLock;
}

/** A revoked key of a claim that was allowed to claim again: kept for the ledger's accounts and the jobs. */
export interface EarlierKey {
  claim_id: string;
  key_name: string;
  key_hash?: string;
  limit_usd: number;
  usage_usd: number;
  returned_usd: number;
  revoked_at?: string;
}

export interface ClaimTransition {
  /** The claim must currently be in one of these states. */
  from: readonly ClaimStatus[];
  /** …and, when given, still be held by this attempt (and, with leaseExpiredBy, past its lease). */
  attempt?: string;
  leaseExpiredBy?: number;
  /** …and, when given, still hold this key. */
  keyHash?: string;
  set: Partial<Omit<ClaimItem, "slug" | "user_id">>;
  remove?: readonly (keyof ClaimItem)[];
}

/** Just above every claim's sort key ("$" follows "#"); no other item kind sorts between. */
const CLAIMS_END = "CLAIM$";
/**
 * Where a workshop's claims are split for parallel reads. User ids are Cognito subs (UUIDs), whose
 * first hex digit spreads them evenly over these ranges; any other id still falls in one of them.
 */
const CLAIM_RANGE_BOUNDS = ["4", "8", "c"];

export function claimStore(table: Table, partitions: Partitions) {
  const { doc, direct, W, retention, queryWorkshopItems, conditional } = table;

  return {
    async getClaim(slug: string, userId: string): Promise<ClaimItem | undefined> {
      return stripKeys<ClaimItem>(await direct.get({ TableName: W, Key: await partitions.claimKey(slug, userId), ConsistentRead: true }));
    },

    /**
     * Every claim of a workshop. The claims are read as a few key ranges in parallel, each following
     * its own pages: 3,000 claims are several 1 MB pages, and one chain of pages would read them one
     * after another. A sharded workshop's partitions are those ranges (each holds at most about
     * CLAIM_SHARD_PLACES claims); one partition is split by the user id's first hex digit.
     * `consistent: false` (organizer views) reads at half the cost; the jobs need consistent reads
     * (see jobs/plan.ts).
     */
    async listClaims(slug: string, opts: { consistent?: boolean } = {}): Promise<ClaimItem[]> {
      const consistent = opts.consistent ?? true;
      const pks = await partitions.claimPartitions(slug);
      const bounds = [claimSk(""), ...CLAIM_RANGE_BOUNDS.map(claimSk), CLAIMS_END];
      const ranges = bounds.slice(0, -1).map((from, i) => [from, bounds[i + 1]!] as const);
      const parts = await Promise.all(
        pks.length > 1
          ? pks.map((pk) => queryWorkshopItems(pk, { between: [claimSk(""), CLAIMS_END] }, { consistent }))
          : ranges.map((between) => queryWorkshopItems(slug, { between }, { consistent })),
      );
      // BETWEEN includes both ends: a claim whose sort key is exactly a bound is read twice.
      const bySk = new Map(parts.flat().map((item) => [`${String(item.pk)} ${String(item.sk)}`, item]));
      return [...bySk.values()].map((item) => stripKeys<ClaimItem>(item)!);
    },

    /**
     * Writes a new RESERVED claim. Refused (with the existing claim) when the user already has one,
     * unless that one was RELEASED: a failed mint gave everything back, so the user may try again.
     */
    async createClaim(claim: ClaimItem): Promise<void> {
      const e = new Expression();
      const { slug, ...attrs } = claim;
      const key = await partitions.claimKey(slug, claim.user_id);
      await conditional<ClaimItem>("createClaim", W, key, () =>
        direct.put({
          TableName: W,
          Item: { ...key, ...attrs, ttl: ttlAfterKeyExpiry(claim.expires_at, retention) },
          ConditionExpression: `attribute_not_exists(${e.name("pk")}) OR ${e.name("status")} = ${e.value("RELEASED")}`,
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          ...e.params(),
        }),
      );
    },

    /** Compensation: removes a claim this attempt reserved and that never got a slot. */
    async deleteReservedClaim(slug: string, userId: string, attempt: string): Promise<void> {
      const e = new Expression();
      const key = await partitions.claimKey(slug, userId);
      await conditional<ClaimItem>("deleteReservedClaim", W, key, () =>
        doc.send(
          new DeleteCommand({
            TableName: W,
            Key: key,
            ConditionExpression: `${e.name("status")} = ${e.value("RESERVED")} AND ${e.name("attempt")} = ${e.value(attempt)}`,
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
    },

    /** Moves a claim between states, only from the states (and attempt, and lease) the caller expects. */
    async transitionClaim(slug: string, userId: string, t: ClaimTransition): Promise<ClaimItem> {
      const e = new Expression();
      const key = await partitions.claimKey(slug, userId);
      const sets = Object.entries(t.set)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${e.name(k)} = ${e.value(v)}`);
      const removes = (t.remove ?? []).map((k) => e.name(k));
      const status = e.name("status");
      const parts = [
        `attribute_exists(${e.name("pk")})`,
        `${status} IN (${t.from.map((s) => e.value(s)).join(", ")})`,
        t.attempt === undefined ? undefined : `${e.name("attempt")} = ${e.value(t.attempt)}`,
        t.leaseExpiredBy === undefined ? undefined : `${e.name("lease_until")} <= ${e.value(t.leaseExpiredBy)}`,
        t.keyHash === undefined ? undefined : `${e.name("key_hash")} = ${e.value(t.keyHash)}`,
      ].filter(Boolean);
      const item = await conditional<ClaimItem>("transitionClaim", W, key, () =>
        direct.update({
          TableName: W,
          Key: key,
          UpdateExpression: [sets.length ? `SET ${sets.join(", ")}` : "", removes.length ? `REMOVE ${removes.join(", ")}` : ""].join(" ").trim(),
          ConditionExpression: parts.join(" AND "),
          ReturnValues: "ALL_NEW",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          ...e.params(),
        }),
      );
      return stripKeys<ClaimItem>(item as Record<string, unknown> | undefined)!;
    },
  };
}
