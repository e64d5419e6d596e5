import type { Workshop } from "../../workshops/schema.js";
import { keyExpiresAt } from "../../workshops/derive.js";
import { createHash } from "node:crypto";

/**
 * The DynamoDB tables, defined once. The local stack and the tests create them from these
 * definitions (`createTableInput`); the Pulumi program declares the same keys (`infra/`).
 *
 * attendees  — one item per signed-in person, keyed by the token's `sub`:
 *   { user_id, email, email_normalized, email_verified, display_name, auth_provider,
 *     first_seen_at, last_seen_at, confirmed_at, ttl }
 *   Items written before consent was kept per workshop may also hold marketing_opted_in,
 *   marketing_opted_in_at and marketing_opted_in_workshop: read as consent for that one workshop only.
 *
 * workshops  — everything scoped to one workshop, under pk = <slug>:
 *   sk = "LEDGER"             the pooled-cap ledger: { claimed (number), committed_usd (number), paused (bool) };
 *                            committed_usd = Σ limit_usd of claims holding a slot (top-ups included) + what revoked keys spent
 *                            committed_ever_usd (number): every budget and top-up ever committed, never lowered;
 *                            live_unspent? { usd, committed_ever_usd, synced_at }: Σ max(0, limit_usd − usage_usd) of the
 *                            live claims at the last sync, and committed_ever_usd just before it read them (jobs/credits.ts)
 *   sk = "CLAIM#<user_id>"    one claim per (workshop, user): the state machine of DESIGN.md:
 *       { user_id, email, email_normalized, claim_id, status (RESERVED|MINTED|ACTIVE|UNBOUND|RELEASED|REVOKED|EXPIRED),
 *         key_name, key_hash?, key? (plaintext, scrubbed at expiry), limit_usd, expires_at, guardrail_id?, bound_at?,
 *         usage_usd, limit_remaining?, usage_synced_at?, reserved_at, lease_until (epoch ms), attempt, claimed_at,
 *         updated_at, last_error?, topup? {id, from_usd, amount_usd, until} (an organizer's top-up in flight),
 *         reallowed_at? (an organizer allowed one new key after a revoke), earlier_keys? [{claim_id, key_name,
 *         key_hash, limit_usd, usage_usd, returned_usd, revoked_at}] (revoked keys before the current one) }
 *   sk = "EMAIL#<normalized>" the normalized-email lock: { user_id, attempt, ttl }
 *   sk = "SPEND#<iso time>"   a usage sample for the dashboard chart: { at, usage_usd, keys, ttl }
 *   sk = "CONSENT#<user_id>"  the attendee's marketing consent for this workshop:
 *       { user_id, marketing_opted_in, decided_at, opted_in_at?, ttl }
 *   sk = "ATTEMPTS#<user_id>#<window>"  one person's claim attempts in one attempt window (the room
 *       code's rotation, `domain/attempts.ts`; `<window>` is e.g. "5m5893421"):
 *       { user_id, claims (number), wrong_room_codes (number), window_ends_at (epoch ms), ttl }
 *       Read with the claim's BatchGet (data/claim-reads.ts); written only by claims that do not create
 *       a key (the one that does happens once per person). Each count is an UpdateItem ADD whose
 *       condition holds the limit, so containers racing each other cannot count past it; the next
 *       window is a new item, and `ttl` (an hour after the window ends) clears the old ones.
 *   sk = "INVITE#<normalized>" one address of the organizers' uploaded invite list (data/invites.ts, workshops with
 *       attendees.invite_list): { email, email_normalized, invited_at, ttl } with the claims' retention
 *   sk = "AUDIT#<iso time>#<n>" one organizer action (data/audit.ts): { at, action, by, user_id?, email?,
 *       details?, ttl } with the claims' retention (they name attendees)
 * Sharded workshops: above CLAIM_SHARD_PLACES places (workshops/derive.ts `claimShards`, README
 *   "Scale") the per-person items, CLAIM#, EMAIL# and ATTEMPTS#, live under pk = "<slug>#<hex>"
 *   instead, one of `claimShards` partitions, by a hash of the user id (claim, attempt counter) or
 *   the normalized email (lock): `shardPk`, resolved by data/partitions.ts. Everything else (LEDGER,
 *   SPEND#, CONSENT#, INVITE#, AUDIT#) stays under pk = <slug>. A workshop at or below the size keeps
 *   the layout above exactly; the count never changes once claims open (`shardChangeRefusal`).
 * and, under pk = "#catalog" (slugs never start with "#"), everything the deploy writes and nothing else:
 *   sk = "INDEX"              the deployment's workshop index, written whole with the CONFIG items:
 *       { workshops: { <slug>: CatalogEntry }, updated_at }. The API reads it instead of scanning the
 *       table: which workshops exist, their claim windows and organizers.
 *   sk = "CONFIG#<slug>"      a workshop's item (`workshopConfigKey`): { config (Workshop), guardrail_id, workspace_id?, key_namespace, updated_at }
 *       (workspace_id: governance "workspace" only, the workshop's OpenRouter workspace; guardrail_id is then its default guardrail)
 *   Apart from the claims' partitions on purpose: the deploy role's item rights carry a
 *   `dynamodb:LeadingKeys` condition naming this partition only (infra/iam/deploy-policy.json), so it
 *   reads no claim, key, profile or room-code secret.
 * and, under pk = "#deployment", items of the whole deployment:
 *   sk = "ROOM_CODE_SECRET"   the secret room codes are derived from: { secret (base64url), created_at }
 *   sk = "CREDITS"            the jobs' last check of the OpenRouter account's credit against what open and
 *       upcoming workshops can still spend: { checked_at, available_usd, worst_case_usd, shortfall_usd, workshops }
 *
 * The attribute `ttl` (epoch seconds) makes DynamoDB delete an item even if no job ever does: claims
 * (they hold the plaintext key and an email), email locks, invite lists, audit entries and spend samples a grace period after the
 * workshop's keys expire; attendee profiles and consents a retention period after they were last
 * written (docs/privacy.md); attempt counters an hour after their window. Workshop items and
 * ledgers have none: the deploy owns them.
 */

/** Sort keys (and the deployment's partition key) of the layout above. */
export const LEDGER_SK = "LEDGER";
export const claimSk = (userId: string) => `CLAIM#${userId}`;
export const emailSk = (normalized: string) => `EMAIL#${normalized}`;
export const consentSk = (userId: string) => `CONSENT#${userId}`;
export const attemptsSk = (userId: string, window: string) => `ATTEMPTS#${userId}#${window}`;
export const INVITE_PREFIX = "INVITE#";
export const inviteSk = (normalized: string) => `${INVITE_PREFIX}${normalized}`;
export const AUDIT_PREFIX = "AUDIT#";
/** Sorted by time; `n` keeps two actions of the same millisecond apart. */
export const auditSk = (at: string, n: string) => `${AUDIT_PREFIX}${at}#${n}`;
/**
 * The partition of a claim, email lock or attempt counter: the workshop's (`<slug>`) when it has one
 * claim partition, else `<slug>#<hex>`, the shard `of` (a user id or normalized email) hashes to
 * (data/partitions.ts). A slug holds no `#`, so a sharded partition never meets another workshop's.
 */
export function shardPk(slug: string, shards: number, of: string): string {
  return shards <= 1 ? slug : `${slug}#${shardIndex(of, shards).toString(16)}`;
}

/** A shard from a hash of the item's own identity: stable, and even for any ids. */
function shardIndex(of: string, shards: number): number {
  return createHash("sha256").update(of).digest().readUInt32BE(0) % shards;
}

/** Every claim partition of a workshop with `shards` of them. */
export function shardPks(slug: string, shards: number): string[] {
  return shards <= 1 ? [slug] : Array.from({ length: shards }, (_, i) => `${slug}#${i.toString(16)}`);
}

/** The workshop a partition key belongs to: `<slug>` of `<slug>` and `<slug>#<hex>`. */
export const slugOfPk = (pk: string): string => (pk.startsWith("#") ? pk : pk.split("#")[0]!);

/** Items of the deployment rather than of one workshop; a slug never starts with `#`. */
export const DEPLOYMENT_PK = "#deployment";
export const ROOM_CODE_SECRET_SK = "ROOM_CODE_SECRET";
export const CREDITS_SK = "CREDITS";

export interface RetentionPolicy {
  /** Attendee profiles and consents are deleted this many days after they were last written. */
  attendeeDays: number;
  /** Claims, email locks and spend samples are deleted this many days after the workshop's keys expire. */
  afterKeyExpiryDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { attendeeDays: 180, afterKeyExpiryDays: 30 };

const DAY_S = 24 * 60 * 60;

/** `ttl` of an item that is needed until a key expires (UTC with seconds) and a grace period after. */
export function ttlAfterKeyExpiry(expiresAt: string, policy: RetentionPolicy): number {
  return Math.floor(Date.parse(expiresAt) / 1000) + policy.afterKeyExpiryDays * DAY_S;
}

/** `ttl` of an attendee item written at `nowMs`. */
export function attendeeTtl(nowMs: number, policy: RetentionPolicy): number {
  return Math.floor(nowMs / 1000) + policy.attendeeDays * DAY_S;
}

export interface TableDefinition {
  /** Logical name; the physical name comes from the environment (cloud) or `tableNames()` (local). */
  logicalName: "attendees" | "workshops";
  hashKey: string;
  rangeKey?: string;
  ttlAttribute: string;
}

export const TABLES: readonly TableDefinition[] = [
  { logicalName: "attendees", hashKey: "user_id", ttlAttribute: "ttl" },
  { logicalName: "workshops", hashKey: "pk", rangeKey: "sk", ttlAttribute: "ttl" },
];

export interface TableNames {
  attendees: string;
  workshops: string;
}

/** Physical table names from `ATTENDEES_TABLE` / `WORKSHOPS_TABLE`, or a prefix for local use. */
export function tableNames(prefix = "wkm"): TableNames {
  return {
    attendees: process.env.ATTENDEES_TABLE ?? `${prefix}-attendees`,
    workshops: process.env.WORKSHOPS_TABLE ?? `${prefix}-workshops`,
  };
}

/** The CreateTable input for one definition (on-demand billing, string keys). */
export function createTableInput(def: TableDefinition, tableName: string) {
  const keys = [{ AttributeName: def.hashKey, KeyType: "HASH" as const }];
  const attrs = [{ AttributeName: def.hashKey, AttributeType: "S" as const }];
  if (def.rangeKey) {
    keys.push({ AttributeName: def.rangeKey, KeyType: "RANGE" as const } as never);
    attrs.push({ AttributeName: def.rangeKey, AttributeType: "S" as const });
  }
  return {
    TableName: tableName,
    KeySchema: keys as { AttributeName: string; KeyType: "HASH" | "RANGE" }[],
    AttributeDefinitions: attrs,
    BillingMode: "PAY_PER_REQUEST" as const,
  };
}

/** The partition of everything the deploy writes (see above). */
export const CATALOG_PK = "#catalog";

/** The key of the workshop index item (see above). */
export const CATALOG_KEY = { pk: CATALOG_PK, sk: "INDEX" } as const;

/** The key of a workshop's CONFIG item (see above): the deploy, the local stack and the store use this one builder. */
export function workshopConfigKey(slug: string): { pk: typeof CATALOG_PK; sk: string } {
  return { pk: CATALOG_PK, sk: `CONFIG#${slug}` };
}

/** What the index holds per workshop: enough to pick live workshops and an organizer's, nothing more. */
export interface CatalogEntry {
  slug: string;
  starts_at: string;
  claims_open_at: string;
  claims_close_at: string;
  is_active: boolean;
  organizers: string[];
  /** When the workshop's keys expire: until then they can spend (the jobs' credit check). Absent in older indexes. */
  key_expires_at?: string;
}

export function catalogEntry(w: Workshop): CatalogEntry {
  return {
    slug: w.slug,
    starts_at: w.starts_at,
    claims_open_at: w.claims_open_at,
    claims_close_at: w.claims_close_at,
    is_active: w.is_active,
    organizers: [...w.organizers],
    key_expires_at: keyExpiresAt(w),
  };
}

/** The index item's `workshops` attribute: entries by slug. */
export function catalogEntries(workshops: readonly Workshop[]): Record<string, CatalogEntry> {
  return Object.fromEntries(workshops.map((w) => [w.slug, catalogEntry(w)]));
}
