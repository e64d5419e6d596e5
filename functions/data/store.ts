import { randomBytes } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, type BatchGetCommandOutput, DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { WorkshopSchema, type Workshop } from "../../workshops/schema.js";
import { roundUsd } from "../../workshops/derive.js";
import { chunks, forEachLimited } from "../concurrency.js";
import { ConditionRefusedError, InvalidWorkshopItemError, StoreError } from "./errors.js";
import { Expression, isConditionalFailure, openTable, stripKeys } from "./table.js";
import { attendeeTtl, CATALOG_KEY, catalogEntries, DEFAULT_RETENTION, ttlAfterKeyExpiry, type CatalogEntry, type RetentionPolicy, type TableNames } from "./tables.js";

/**
 * DynamoDB access for the product. Every invariant lives in a single-item conditional write (the
 * local DynamoDB has no transactions, and one hot ledger item under TransactWriteItems would conflict
 * anyway); a refused condition becomes a ConditionRefusedError carrying the item that refused it.
 * The item layout is documented in tables.ts.
 */

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

export interface WorkshopRecord {
  config: Workshop;
  guardrail_id?: string;
  /** The deployment's namespace in guardrail and key names (workshops/derive.ts `keyNamePrefix`). */
  key_namespace?: string;
  updated_at?: string;
}

export interface Ledger {
  claimed: number;
  committed_usd: number;
  paused: boolean;
}

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
}

/** Who holds a normalized email in a workshop, and for which attempt of their claim. */
export interface EmailLock {
  user_id: string;
  /** The claim attempt that reserved the slot before writing this lock (absent: proves nothing). */
  attempt?: string;
}

export interface AttendeeItem {
  user_id: string;
  email?: string;
  email_normalized?: string;
  email_verified: boolean;
  display_name?: string;
  auth_provider?: string;
  /**
   * Legacy, read only: items written before consent was kept per workshop hold one global consent
   * and the workshop it was first given for. It counts for that workshop alone (domain/consent.ts).
   */
  marketing_opted_in?: boolean;
  marketing_opted_in_at?: string;
  marketing_opted_in_workshop?: string;
  first_seen_at: string;
  last_seen_at: string;
  confirmed_at?: string;
}

/** An attendee's answer to one workshop's marketing question (its confirm step). */
export interface WorkshopConsent {
  user_id: string;
  marketing_opted_in: boolean;
  /** When the attendee last answered. */
  decided_at: string;
  /** When they first said yes (kept while they keep saying yes). */
  opted_in_at?: string;
}

/** What the OpenRouter account holds against what the deployment's workshops can still spend (jobs/credits.ts). */
export interface CreditCheck {
  checked_at: string;
  /** total_credits − total_usage, USD. */
  available_usd: number;
  /** Everything open and upcoming workshops can still spend: unclaimed keys' budgets and live keys' unspent limits. */
  worst_case_usd: number;
  /** How much credit is missing (0 when enough). */
  shortfall_usd: number;
  /** Per workshop with something left to spend. */
  workshops: { slug: string; worst_case_usd: number }[];
}

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

/** Items of the deployment rather than of one workshop; a slug never starts with `#`. */
const DEPLOYMENT_PK = "#deployment";
const ROOM_CODE_SECRET_SK = "ROOM_CODE_SECRET";
const CREDITS_SK = "CREDITS";
const CONFIG_SK = "CONFIG";
const LEDGER_SK = "LEDGER";
const claimSk = (userId: string) => `CLAIM#${userId}`;
const emailSk = (normalized: string) => `EMAIL#${normalized}`;
/** On the ledger: what a revoked claim gave back, written with the give-back so it happens once. */
const returnedAttr = (claimId: string) => `returned#${claimId}`;
const consentSk = (userId: string) => `CONSENT#${userId}`;
/** Just above every claim's sort key ("$" follows "#"); no other item kind sorts between. */
const CLAIMS_END = "CLAIM$";
/**
 * Where a workshop's claims are split for parallel reads. User ids are Cognito subs (UUIDs), whose
 * first hex digit spreads them evenly over these ranges; any other id still falls in one of them.
 */
const CLAIM_RANGE_BOUNDS = ["4", "8", "c"];
const BATCH_GETS_IN_FLIGHT = 8;

const spendSampleOf = (item: Record<string, unknown>): SpendSample => ({
  at: String(item.at),
  usage_usd: Number(item.usage_usd),
  keys: Number(item.keys),
});

export interface StoreOptions {
  client: DynamoDBClient;
  tableNames: TableNames;
  /** How long items live before DynamoDB's TTL deletes them (default DEFAULT_RETENTION). */
  retention?: RetentionPolicy;
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

export type Store = ReturnType<typeof createStore>;

export function createStore({ client, tableNames, retention = DEFAULT_RETENTION }: StoreOptions) {
  const { doc, W, A, queryWorkshopItems, conditional } = openTable({ client, tableNames, retention });

  function parseWorkshopItem(slug: string, item: Record<string, unknown>): WorkshopRecord {
    const parsed = WorkshopSchema.safeParse(item.config);
    if (!parsed.success) throw new InvalidWorkshopItemError(slug, parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), parsed.error);
    return {
      config: parsed.data,
      ...(typeof item.guardrail_id === "string" && item.guardrail_id ? { guardrail_id: item.guardrail_id } : {}),
      ...(typeof item.key_namespace === "string" && item.key_namespace ? { key_namespace: item.key_namespace } : {}),
      ...(typeof item.updated_at === "string" ? { updated_at: item.updated_at } : {}),
    };
  }

  const consentOf = (item: Record<string, unknown>): WorkshopConsent => ({
    user_id: String(item.user_id),
    marketing_opted_in: item.marketing_opted_in === true,
    decided_at: String(item.decided_at),
    ...(typeof item.opted_in_at === "string" ? { opted_in_at: item.opted_in_at } : {}),
  });

  const ledgerOf = (item: Record<string, unknown> | undefined): Ledger => ({
    claimed: Number(item?.claimed ?? 0),
    committed_usd: roundUsd(Number(item?.committed_usd ?? 0)),
    paused: item?.paused === true,
  });

  return {
    tableNames,

    // ── workshop CONFIG items (written by the deploy and the local stack) ────────────────────────
    async getWorkshop(slug: string): Promise<WorkshopRecord | undefined> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: slug, sk: CONFIG_SK } }));
      return got.Item ? parseWorkshopItem(slug, got.Item) : undefined;
    },

    async putWorkshop(slug: string, record: { config: Workshop; guardrail_id?: string; key_namespace?: string }, nowMs: number): Promise<void> {
      await doc.send(
        new PutCommand({
          TableName: W,
          Item: {
            pk: slug,
            sk: CONFIG_SK,
            config: record.config,
            guardrail_id: record.guardrail_id,
            key_namespace: record.key_namespace,
            updated_at: new Date(nowMs).toISOString(),
          },
        }),
      );
    },

    /** Records the guardrail found or created for a workshop whose item has none yet. */
    async setGuardrailId(slug: string, guardrailId: string, nowMs: number): Promise<void> {
      const e = new Expression();
      await conditional("setGuardrailId", W, { pk: slug, sk: CONFIG_SK }, () =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: { pk: slug, sk: CONFIG_SK },
            UpdateExpression: `SET ${e.name("guardrail_id")} = ${e.value(guardrailId)}, ${e.name("updated_at")} = ${e.value(new Date(nowMs).toISOString())}`,
            ConditionExpression: `attribute_exists(${e.name("pk")})`,
            ...e.params(),
          }),
        ),
      );
    },

    /**
     * The deployment's workshop index: one GetItem, never a scan. Entries that do not have the
     * index's shape are reported through `invalid` (by slug), not hidden.
     */
    async getCatalog(): Promise<{ entries: CatalogEntry[]; invalid: string[] }> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { ...CATALOG_KEY } }));
      const raw = (got.Item?.workshops ?? {}) as Record<string, unknown>;
      const entries: CatalogEntry[] = [];
      const invalid: string[] = [];
      for (const [slug, value] of Object.entries(raw)) {
        const e = value as Partial<CatalogEntry> | undefined;
        const ok =
          e?.slug === slug &&
          [e.starts_at, e.claims_open_at, e.claims_close_at].every((t) => typeof t === "string" && !Number.isNaN(Date.parse(t))) &&
          typeof e.is_active === "boolean" &&
          Array.isArray(e.organizers) &&
          e.organizers.every((o) => typeof o === "string");
        if (ok) entries.push(e as CatalogEntry);
        else invalid.push(slug);
      }
      entries.sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at) || a.slug.localeCompare(b.slug));
      return { entries, invalid };
    },

    /** Writes the whole index, as the deploy does (the local stack and tests, after their CONFIG items). */
    async putCatalog(workshops: readonly Workshop[], nowMs: number): Promise<void> {
      await doc.send(
        new PutCommand({ TableName: W, Item: { ...CATALOG_KEY, workshops: catalogEntries(workshops), updated_at: new Date(nowMs).toISOString() } }),
      );
    },

    // ── the deployment's room-code secret ───────────────────────────────────────────────────────
    /**
     * The secret room codes are derived from (domain/room-code.ts): made at random on first need and
     * kept here, never in the repository or the browser. The first writer wins (attribute_not_exists),
     * so containers starting at once agree on one secret.
     */
    async roomCodeSecret(nowMs: number): Promise<Buffer> {
      const key = { pk: DEPLOYMENT_PK, sk: ROOM_CODE_SECRET_SK };
      const read = async () => (await doc.send(new GetCommand({ TableName: W, Key: key, ConsistentRead: true }))).Item?.secret;
      const kept = await read();
      if (typeof kept === "string") return Buffer.from(kept, "base64url");
      const made = randomBytes(32).toString("base64url");
      try {
        await doc.send(
          new PutCommand({
            TableName: W,
            Item: { ...key, secret: made, created_at: new Date(nowMs).toISOString() },
            ConditionExpression: "attribute_not_exists(#pk)",
            ExpressionAttributeNames: { "#pk": "pk" },
          }),
        );
        return Buffer.from(made, "base64url");
      } catch (err) {
        if (!isConditionalFailure(err)) throw err;
        const theirs = await read();
        if (typeof theirs !== "string") throw new StoreError("the room-code secret was written by another container but cannot be read back", { cause: err });
        return Buffer.from(theirs, "base64url");
      }
    },

    // ── the account's credit, as the jobs last checked it ──────────────────────────────────────
    /** Keeps the check unless a newer one is already stored (overlapping jobs of several workshops). */
    async putCreditCheck(check: CreditCheck): Promise<void> {
      try {
        await doc.send(
          new PutCommand({
            TableName: W,
            Item: { pk: DEPLOYMENT_PK, sk: CREDITS_SK, ...check },
            ConditionExpression: "attribute_not_exists(#pk) OR #checked_at <= :at",
            ExpressionAttributeNames: { "#pk": "pk", "#checked_at": "checked_at" },
            ExpressionAttributeValues: { ":at": check.checked_at },
          }),
        );
      } catch (err) {
        if (!isConditionalFailure(err)) throw err;
      }
    },

    async getCreditCheck(): Promise<CreditCheck | undefined> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: DEPLOYMENT_PK, sk: CREDITS_SK } }));
      if (!got.Item) return undefined;
      const { checked_at, available_usd, worst_case_usd, shortfall_usd, workshops } = got.Item;
      return { checked_at, available_usd, worst_case_usd, shortfall_usd, workshops } as CreditCheck;
    },

    // ── the pooled-cap ledger ─────────────────────────────────────────────────────────────────
    async getLedger(slug: string): Promise<Ledger> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: slug, sk: LEDGER_SK }, ConsistentRead: true }));
      return ledgerOf(got.Item);
    },

    async getLedgers(slugs: readonly string[]): Promise<Map<string, Ledger>> {
      const out = new Map<string, Ledger>(slugs.map((s) => [s, ledgerOf(undefined)]));
      for (let i = 0; i < slugs.length; i += 100) {
        let keys: Record<string, unknown>[] | undefined = slugs.slice(i, i + 100).map((s) => ({ pk: s, sk: LEDGER_SK }));
        while (keys && keys.length) {
          const got: BatchGetCommandOutput = await doc.send(new BatchGetCommand({ RequestItems: { [W]: { Keys: keys, ConsistentRead: true } } }));
          for (const item of got.Responses?.[W] ?? []) out.set(String(item.pk), ledgerOf(item));
          keys = got.UnprocessedKeys?.[W]?.Keys;
        }
      }
      return out;
    },

    /**
     * Takes one slot and its budget: refused (ConditionRefusedError with the ledger) when the
     * workshop is paused, every slot is taken, or the budget would push committed USD above the cap.
     */
    async reserveSlot(slug: string, limits: { maxKeys: number; capUsd: number; budgetUsd: number }): Promise<Ledger> {
      const e = new Expression();
      const claimed = e.name("claimed");
      const committed = e.name("committed_usd");
      const paused = e.name("paused");
      const one = e.value(1);
      const budget = e.value(limits.budgetUsd);
      const notPaused = `(attribute_not_exists(${paused}) OR ${paused} = ${e.value(false)})`;
      const slotFree = `(attribute_not_exists(${claimed}) OR ${claimed} < ${e.value(limits.maxKeys)})`;
      const budgetFits = `(attribute_not_exists(${committed}) OR ${committed} <= ${e.value(roundUsd(limits.capUsd - limits.budgetUsd))})`;
      // Callers refuse before reserving when the cap is below one budget (effective capacity 0).
      const condition = [notPaused, slotFree, budgetFits].join(" AND ");
      const res = await conditional<Ledger>("reserveSlot", W, { pk: slug, sk: LEDGER_SK }, () =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: { pk: slug, sk: LEDGER_SK },
            UpdateExpression: `ADD ${claimed} ${one}, ${committed} ${budget}`,
            ConditionExpression: condition,
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      ).catch((err: unknown) => {
        if (err instanceof ConditionRefusedError) {
          throw new ConditionRefusedError<Ledger>(err.operation, err.key, ledgerOf(err.existing as Record<string, unknown> | undefined), err.cause);
        }
        throw err;
      });
      return ledgerOf((res as { Attributes?: Record<string, unknown> }).Attributes);
    },

    /** Gives a slot and its budget back (a compensation or a release). Never drives the ledger below zero. */
    async releaseSlot(slug: string, budgetUsd: number): Promise<Ledger> {
      const e = new Expression();
      const claimed = e.name("claimed");
      const res = await conditional<Ledger>("releaseSlot", W, { pk: slug, sk: LEDGER_SK }, () =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: { pk: slug, sk: LEDGER_SK },
            UpdateExpression: `ADD ${claimed} ${e.value(-1)}, ${e.name("committed_usd")} ${e.value(-budgetUsd)}`,
            ConditionExpression: `${claimed} > ${e.value(0)}`,
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
      return ledgerOf((res as { Attributes?: Record<string, unknown> }).Attributes);
    },

    /**
     * Gives a revoked claim's slot and its unspent budget back to the pool, exactly once: the same
     * conditional write records the amount on the ledger under the claim's id, so a repeated or
     * concurrent give-back (two organizers, a retry after a crash) is refused and answers with the
     * amount that was given back the first time.
     */
    async returnRevokedSlot(slug: string, claimId: string, unspentUsd: number): Promise<{ returnedUsd: number; ledger: Ledger }> {
      const e = new Expression();
      const claimed = e.name("claimed");
      const returned = e.name(returnedAttr(claimId));
      const key = { pk: slug, sk: LEDGER_SK };
      try {
        const res = await conditional<Record<string, unknown>>("returnRevokedSlot", W, key, () =>
          doc.send(
            new UpdateCommand({
              TableName: W,
              Key: key,
              UpdateExpression: `ADD ${claimed} ${e.value(-1)}, ${e.name("committed_usd")} ${e.value(-unspentUsd)} SET ${returned} = ${e.value(unspentUsd)}`,
              ConditionExpression: `attribute_not_exists(${returned}) AND ${claimed} > ${e.value(0)}`,
              ReturnValues: "ALL_NEW",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
              ...e.params(),
            }),
          ),
        );
        return { returnedUsd: unspentUsd, ledger: ledgerOf((res as { Attributes?: Record<string, unknown> }).Attributes) };
      } catch (err) {
        if (!(err instanceof ConditionRefusedError)) throw err;
        const existing = err.existing as Record<string, unknown> | undefined;
        const first = existing?.[returnedAttr(claimId)];
        if (typeof first === "number") return { returnedUsd: first, ledger: ledgerOf(existing) };
        throw err;
      }
    },

    async setPaused(slug: string, pausedNow: boolean): Promise<Ledger> {
      const e = new Expression();
      const res = await doc.send(
        new UpdateCommand({
          TableName: W,
          Key: { pk: slug, sk: LEDGER_SK },
          UpdateExpression: `SET ${e.name("paused")} = ${e.value(pausedNow)}`,
          ReturnValues: "ALL_NEW",
          ...e.params(),
        }),
      );
      return ledgerOf(res.Attributes);
    },

    // ── claims ─────────────────────────────────────────────────────────────────────────────────
    async getClaim(slug: string, userId: string): Promise<ClaimItem | undefined> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: slug, sk: claimSk(userId) }, ConsistentRead: true }));
      return stripKeys<ClaimItem>(got.Item);
    },

    /**
     * Every claim of a workshop. The claims are read as a few key ranges in parallel, each following
     * its own pages: 3,000 claims are several 1 MB pages, and one chain of pages would read them one
     * after another. `consistent: false` (organizer views) reads at half the cost; the jobs need
     * consistent reads (see jobs/plan.ts).
     */
    async listClaims(slug: string, opts: { consistent?: boolean } = {}): Promise<ClaimItem[]> {
      const bounds = [claimSk(""), ...CLAIM_RANGE_BOUNDS.map(claimSk), CLAIMS_END];
      const ranges = bounds.slice(0, -1).map((from, i) => [from, bounds[i + 1]!] as const);
      const parts = await Promise.all(ranges.map((between) => queryWorkshopItems(slug, { between }, { consistent: opts.consistent ?? true })));
      // BETWEEN includes both ends: a claim whose sort key is exactly a bound is read twice.
      const bySk = new Map(parts.flat().map((item) => [String(item.sk), item]));
      return [...bySk.values()].map((item) => stripKeys<ClaimItem>(item)!);
    },

    /**
     * Writes a new RESERVED claim. Refused (with the existing claim) when the user already has one,
     * unless that one was RELEASED: a failed mint gave everything back, so the user may try again.
     */
    async createClaim(claim: ClaimItem): Promise<void> {
      const e = new Expression();
      const { slug, ...attrs } = claim;
      const key = { pk: slug, sk: claimSk(claim.user_id) };
      await conditional<ClaimItem>("createClaim", W, key, () =>
        doc.send(
          new PutCommand({
            TableName: W,
            Item: { ...key, ...attrs, ttl: ttlAfterKeyExpiry(claim.expires_at, retention) },
            ConditionExpression: `attribute_not_exists(${e.name("pk")}) OR ${e.name("status")} = ${e.value("RELEASED")}`,
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
    },

    /** Compensation: removes a claim this attempt reserved and that never got a slot. */
    async deleteReservedClaim(slug: string, userId: string, attempt: string): Promise<void> {
      const e = new Expression();
      const key = { pk: slug, sk: claimSk(userId) };
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
      const key = { pk: slug, sk: claimSk(userId) };
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
      const res = await conditional<ClaimItem>("transitionClaim", W, key, () =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: key,
            UpdateExpression: [sets.length ? `SET ${sets.join(", ")}` : "", removes.length ? `REMOVE ${removes.join(", ")}` : ""].join(" ").trim(),
            ConditionExpression: parts.join(" AND "),
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
      return stripKeys<ClaimItem>((res as { Attributes?: Record<string, unknown> }).Attributes)!;
    },

    /**
     * The owner's live usage read, rate-limited: records `atMs` as the claim's last check unless one
     * happened less than `minIntervalMs` ago or the claim holds no live key. Answers the claim when
     * this caller may read upstream now, undefined when not.
     */
    async startUsageCheck(slug: string, userId: string, atMs: number, minIntervalMs: number, liveStatuses: readonly ClaimStatus[]): Promise<ClaimItem | undefined> {
      const e = new Expression();
      const key = { pk: slug, sk: claimSk(userId) };
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
            Key: { pk: slug, sk: claimSk(userId) },
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

    // ── normalized-email locks: one claim per person per workshop ────────────────────────────────
    // The lock is written only after its claim's slot was reserved, and records that claim's
    // attempt: a lock naming a claim's current attempt is the proof that the claim holds its slot.
    /**
     * Refused (with the holder `{user_id, attempt}`) when another user holds this normalized email here.
     * `keyExpiresAt`: the claim's key expiry; the lock is needed until then (its `ttl`).
     */
    async lockEmail(slug: string, emailNormalized: string, userId: string, attempt: string | undefined, keyExpiresAt: string): Promise<void> {
      const e = new Expression();
      const key = { pk: slug, sk: emailSk(emailNormalized) };
      await conditional<EmailLock>("lockEmail", W, key, () =>
        doc.send(
          new PutCommand({
            TableName: W,
            Item: { ...key, user_id: userId, ...(attempt === undefined ? {} : { attempt }), ttl: ttlAfterKeyExpiry(keyExpiresAt, retention) },
            ConditionExpression: `attribute_not_exists(${e.name("pk")}) OR ${e.name("user_id")} = ${e.value(userId)}`,
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
    },

    /**
     * Hands this user's lock from one attempt of their claim to the next (a take-over). Refused when
     * the lock is missing or names another user or attempt: then nothing proves the claim's slot.
     */
    async repointEmailLock(slug: string, emailNormalized: string, userId: string, fromAttempt: string, toAttempt: string): Promise<void> {
      const e = new Expression();
      const key = { pk: slug, sk: emailSk(emailNormalized) };
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
      const key = { pk: slug, sk: emailSk(emailNormalized) };
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
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: slug, sk: emailSk(emailNormalized) }, ConsistentRead: true }));
      if (!got.Item) return undefined;
      return { user_id: String(got.Item.user_id), ...(typeof got.Item.attempt === "string" ? { attempt: got.Item.attempt } : {}) };
    },

    // ── attendee profiles ──────────────────────────────────────────────────────────────────────
    async getAttendee(userId: string): Promise<AttendeeItem | undefined> {
      const got = await doc.send(new GetCommand({ TableName: A, Key: { user_id: userId }, ConsistentRead: true }));
      return got.Item as AttendeeItem | undefined;
    },

    /** Attendees by id, in BatchGets of 100 (DynamoDB's limit), several in flight at once. */
    async getAttendees(userIds: readonly string[]): Promise<Map<string, AttendeeItem>> {
      const out = new Map<string, AttendeeItem>();
      await forEachLimited(chunks([...new Set(userIds)], 100), BATCH_GETS_IN_FLIGHT, async (batch) => {
        let keys: Record<string, unknown>[] | undefined = batch.map((u) => ({ user_id: u }));
        while (keys && keys.length) {
          const got: BatchGetCommandOutput = await doc.send(new BatchGetCommand({ RequestItems: { [A]: { Keys: keys } } }));
          for (const item of got.Responses?.[A] ?? []) out.set(String(item.user_id), item as AttendeeItem);
          keys = got.UnprocessedKeys?.[A]?.Keys;
        }
      });
      return out;
    },

    /** Records a sign-in: identity fields from the token, first/last seen; keeps the confirmation. Restarts the retention period. */
    async recordSeen(
      who: { userId: string; email?: string; emailNormalized?: string; emailVerified: boolean; displayName?: string; authProvider?: string },
      nowMs: number,
    ): Promise<AttendeeItem> {
      const e = new Expression();
      const at = e.value(new Date(nowMs).toISOString());
      const sets = [
        `${e.name("email_verified")} = ${e.value(who.emailVerified)}`,
        `${e.name("last_seen_at")} = ${at}`,
        `${e.name("first_seen_at")} = if_not_exists(${e.name("first_seen_at")}, ${at})`,
        `${e.name("ttl")} = ${e.value(attendeeTtl(nowMs, retention))}`,
      ];
      if (who.email !== undefined) sets.push(`${e.name("email")} = ${e.value(who.email)}`);
      if (who.emailNormalized !== undefined) sets.push(`${e.name("email_normalized")} = ${e.value(who.emailNormalized)}`);
      if (who.displayName !== undefined) sets.push(`${e.name("display_name")} = if_not_exists(${e.name("display_name")}, ${e.value(who.displayName)})`);
      if (who.authProvider !== undefined) sets.push(`${e.name("auth_provider")} = ${e.value(who.authProvider)}`);
      const res = await doc.send(
        new UpdateCommand({
          TableName: A,
          Key: { user_id: who.userId },
          UpdateExpression: `SET ${sets.join(", ")}`,
          ReturnValues: "ALL_NEW",
          ...e.params(),
        }),
      );
      return res.Attributes as AttendeeItem;
    },

    /** The confirm step's profile part: the display name (already cleaned by the caller). */
    async confirmProfile(userId: string, profile: { displayName: string }, nowMs: number): Promise<AttendeeItem> {
      const e = new Expression();
      const at = e.value(new Date(nowMs).toISOString());
      const sets = [
        `${e.name("display_name")} = ${e.value(profile.displayName)}`,
        `${e.name("confirmed_at")} = if_not_exists(${e.name("confirmed_at")}, ${at})`,
        `${e.name("first_seen_at")} = if_not_exists(${e.name("first_seen_at")}, ${at})`,
        `${e.name("last_seen_at")} = ${at}`,
        `${e.name("email_verified")} = if_not_exists(${e.name("email_verified")}, ${e.value(false)})`,
        `${e.name("ttl")} = ${e.value(attendeeTtl(nowMs, retention))}`,
      ];
      const res = await doc.send(
        new UpdateCommand({
          TableName: A,
          Key: { user_id: userId },
          UpdateExpression: `SET ${sets.join(", ")}`,
          ReturnValues: "ALL_NEW",
          ...e.params(),
        }),
      );
      return res.Attributes as AttendeeItem;
    },

    // ── marketing consent, per (workshop, attendee) ─────────────────────────────────────────────
    /** Records the attendee's answer for one workshop. A yes keeps the time it was first given; a no removes it. */
    async recordConsent(slug: string, userId: string, optedIn: boolean, nowMs: number): Promise<WorkshopConsent> {
      const e = new Expression();
      const at = e.value(new Date(nowMs).toISOString());
      const sets = [
        `${e.name("user_id")} = ${e.value(userId)}`,
        `${e.name("marketing_opted_in")} = ${e.value(optedIn)}`,
        `${e.name("decided_at")} = ${at}`,
        `${e.name("ttl")} = ${e.value(attendeeTtl(nowMs, retention))}`,
      ];
      if (optedIn) sets.push(`${e.name("opted_in_at")} = if_not_exists(${e.name("opted_in_at")}, ${at})`);
      const res = await doc.send(
        new UpdateCommand({
          TableName: W,
          Key: { pk: slug, sk: consentSk(userId) },
          UpdateExpression: `SET ${sets.join(", ")}${optedIn ? "" : ` REMOVE ${e.name("opted_in_at")}`}`,
          ReturnValues: "ALL_NEW",
          ...e.params(),
        }),
      );
      return consentOf(res.Attributes!);
    },

    async getConsent(slug: string, userId: string): Promise<WorkshopConsent | undefined> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: slug, sk: consentSk(userId) }, ConsistentRead: true }));
      return got.Item ? consentOf(got.Item) : undefined;
    },

    /** Every answer given for a workshop, following pages. */
    async listConsents(slug: string): Promise<WorkshopConsent[]> {
      return (await queryWorkshopItems(slug, { prefix: "CONSENT#" }, { consistent: true })).map(consentOf);
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
