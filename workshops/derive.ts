import type { Workshop } from "./schema.js";
import { countOf } from "./wording.js";

/**
 * Values every other part derives from a workshop. One module, so the page, the claim engine, the
 * jobs and the infrastructure cannot disagree about when keys expire or how many can be handed out.
 */

/** Formats an instant as UTC with seconds (`2026-04-14T13:15:00Z`); OpenRouter rejects minute precision. */
export function toUtcSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** When every attendee key stops working: ends_at + expires_buffer_minutes, UTC with seconds. */
export function keyExpiresAt(w: Workshop): string {
  return toUtcSeconds(Date.parse(w.ends_at) + w.openrouter.expires_buffer_minutes * 60_000);
}

/**
 * Keys that can be handed out. Guardrail budgets are per key, not pooled, so the minter enforces
 * the pooled cap itself by reserving each key's budget: at most floor(cap / budget) keys.
 */
export function effectiveCapacity(w: Workshop): number {
  const { budget_usd, guardrail } = w.openrouter;
  // The epsilon keeps 100 / 0.1 from landing on 999.9999.
  return Math.min(guardrail.max_keys, Math.floor(guardrail.cap_usd / budget_usd + 1e-9));
}

/**
 * Keys that can still be claimed, given the ledger. A revoked key gives back its slot but keeps what
 * it spent committed, so the cap can bind before the slots do: a key is left only where both a slot
 * and a whole budget are.
 */
export function keysLeft(w: Workshop, ledger: { claimed: number; committed_usd: number }): number {
  const { budget_usd, guardrail } = w.openrouter;
  const budgetsLeft = Math.floor((guardrail.cap_usd - ledger.committed_usd) / budget_usd + 1e-9);
  return Math.max(0, Math.min(effectiveCapacity(w) - ledger.claimed, budgetsLeft));
}

/** The most the workshop can ever cost: every key handed out and spent to its limit. */
export function worstCaseSpendUsd(w: Workshop): number {
  return roundUsd(effectiveCapacity(w) * w.openrouter.budget_usd);
}

/** USD amounts are kept to micro-dollars, so sums of floats do not drift in the ledger. */
export function roundUsd(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

export interface GuardrailSpec {
  name: string;
  description: string;
  allowed_models: string[];
  limit_usd: number;
  reset_interval: "daily" | "weekly" | "monthly";
}

/**
 * The OpenRouter guardrail for a workshop: the model allowlist (its limit is per key, see DESIGN.md).
 * `namespace` is the deployment's (see `keyNamePrefix`): a rehearsal of an edited file, or a staging
 * stack, on the production OpenRouter account gets its own guardrail instead of rewriting the live one.
 */
export function guardrailSpec(w: Workshop, namespace?: string): GuardrailSpec {
  return {
    name: guardrailName(w.slug, namespace),
    description: `Workshop Key Minter: ${w.name}`.slice(0, 200),
    allowed_models: w.openrouter.models.map((m) => m.id),
    limit_usd: w.openrouter.guardrail.cap_usd,
    reset_interval: w.openrouter.guardrail.reset_interval,
  };
}

export function guardrailName(slug: string, namespace?: string): string {
  return namespace ? `workshop-${slug}--${namespace}` : `workshop-${slug}`;
}

/**
 * How the deploy governs attendee keys (its `governance` setting): "assignment" (default, any
 * account) assigns each new key to the workshop's guardrail, a second call per claim; "workspace"
 * (an OpenRouter organization account) gives each workshop its own workspace, whose default
 * guardrail governs every key created in it: one call per claim.
 */
export const GOVERNANCE_MODES = ["assignment", "workspace"] as const;
export type GovernanceMode = (typeof GOVERNANCE_MODES)[number];
export const DEFAULT_GOVERNANCE: GovernanceMode = "assignment";

export function isGovernanceMode(v: unknown): v is GovernanceMode {
  return typeof v === "string" && (GOVERNANCE_MODES as readonly string[]).includes(v);
}

/** One line for start-up output, checks and previews: how a workshop's keys get their allow-list. */
export function governanceLine(mode: GovernanceMode): string {
  return mode === "workspace"
    ? "governance: workspace (one OpenRouter workspace per workshop; its default guardrail carries the allow-list; 1 OpenRouter call per claim)"
    : "governance: assignment (each key assigned to the workshop's guardrail; 2 OpenRouter calls per claim)";
}

/**
 * Every key of a workshop is named `<key_label_prefix>/<namespace>/<slug>/<claimId>`. The slug makes
 * the name unique across workshops; the namespace (one per deployment: the Pulumi stack, a local
 * data folder) makes it unique across deployments that share one OpenRouter account, so one
 * deployment's sync never takes another's attendee keys for orphans. Without a namespace the name is
 * `<key_label_prefix>/<slug>/<claimId>`.
 */
export const KEY_NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function keyNamePrefix(w: Workshop, namespace?: string): string {
  if (namespace !== undefined && !KEY_NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(`key namespace ${JSON.stringify(namespace)} must be 1-40 lowercase letters, digits and dashes`);
  }
  return `${w.openrouter.key_label_prefix}/${namespace ? `${namespace}/` : ""}${w.slug}/`;
}

export function keyName(w: Workshop, claimId: string, namespace?: string): string {
  return `${keyNamePrefix(w, namespace)}${claimId}`;
}

/**
 * Whether an upstream key's name is one of this workshop's in this namespace (claim ids hold no
 * "/"), as a test made once and applied to many keys: the prefix is worked out once, not per key.
 */
export function workshopKeyMatcher(w: Workshop, namespace?: string): (name: string) => boolean {
  const prefix = keyNamePrefix(w, namespace);
  return (name) => name.startsWith(prefix) && name.length > prefix.length && name.indexOf("/", prefix.length) === -1;
}

/** The public facts about a workshop that both the page's catalog and the API's status show. */
export interface PublicWorkshopFacts {
  slug: string;
  name: string;
  event: string;
  location: string;
  starts_at: string;
  ends_at: string;
  claims_open_at: string;
  claims_close_at: string;
  key_expires_at: string;
}

export function publicWorkshopFacts(w: Workshop): PublicWorkshopFacts {
  return {
    slug: w.slug,
    name: w.name,
    event: w.event,
    location: w.location,
    starts_at: w.starts_at,
    ends_at: w.ends_at,
    claims_open_at: w.claims_open_at,
    claims_close_at: w.claims_close_at,
    key_expires_at: keyExpiresAt(w),
  };
}

export type ClaimWindow = "upcoming" | "open" | "closed";

/** Where `now` falls in the claim window. Inactive workshops are closed. */
export function claimWindow(w: Pick<Workshop, "is_active" | "claims_open_at" | "claims_close_at">, now: number): ClaimWindow {
  if (!w.is_active) return "closed";
  if (now < Date.parse(w.claims_open_at)) return "upcoming";
  if (now >= Date.parse(w.claims_close_at)) return "closed";
  return "open";
}

export interface WorkshopWarning {
  slug: string;
  message: string;
}

/** Things that are valid but probably not what the organizer meant. */
export function workshopWarnings(w: Workshop): WorkshopWarning[] {
  const out: WorkshopWarning[] = [];
  const { budget_usd, guardrail, models } = w.openrouter;
  // Capacity 0 is not a warning but an error of the file (load.ts).
  if (guardrail.max_keys * budget_usd > guardrail.cap_usd + 1e-9 && effectiveCapacity(w) > 0) {
    out.push({
      slug: w.slug,
      message: `max_keys (${guardrail.max_keys}) × budget_usd ($${budget_usd}) = $${roundUsd(guardrail.max_keys * budget_usd)} is above cap_usd ($${guardrail.cap_usd}): only ${countOf(effectiveCapacity(w), "key")} can be handed out`,
    });
  }
  if (Date.parse(w.claims_close_at) > Date.parse(keyExpiresAt(w))) {
    out.push({
      slug: w.slug,
      message: `claims close (${w.claims_close_at}) after keys expire (${keyExpiresAt(w)}): a key claimed late would already be expired`,
    });
  }
  for (const m of models) {
    if (m.price_in_per_mtok === undefined || m.price_out_per_mtok === undefined) {
      out.push({ slug: w.slug, message: `model ${m.id} has no price; the page will show "price not listed"` });
    }
  }
  return out;
}

/**
 * Above this many places (`effectiveCapacity`) a workshop's claims, email locks and attempt counters
 * are spread over several DynamoDB partitions, one per this many places (README, "Scale"): a first
 * claim writes 4–5 WCU to its partition, which takes about 1,000 WCU/s, so a room of 1,000 claiming
 * within 10 s uses half of it, leaving room for repeats, the jobs and a faster room.
 */
export const CLAIM_SHARD_PLACES = 1_000;

/**
 * How many partitions a workshop's claims live in: 1 (pk = <slug>, the layout of every workshop up
 * to CLAIM_SHARD_PLACES places) or one per CLAIM_SHARD_PLACES places (pk = <slug>#<hex>). Fixed for
 * the workshop's life once claims open: `shardChangeRefusal` refuses a change to it.
 */
export function claimShards(w: Workshop, placesPerShard: number = CLAIM_SHARD_PLACES): number {
  const places = effectiveCapacity(w);
  return places <= placesPerShard ? 1 : Math.ceil(places / placesPerShard);
}

/**
 * How long before claims open a change of shard count is refused already: the functions cache a
 * workshop's item (and its shard count) for seconds, and a deploy takes minutes.
 */
export const SHARDS_FIXED_BEFORE_OPEN_MS = 60 * 60_000;

/** The fields the shard count is derived from, as they are written in the file. */
const SHARD_FIELDS = [
  ["openrouter.guardrail.max_keys", (w: Workshop) => w.openrouter.guardrail.max_keys],
  ["openrouter.guardrail.cap_usd", (w: Workshop) => w.openrouter.guardrail.cap_usd],
  ["openrouter.budget_usd", (w: Workshop) => w.openrouter.budget_usd],
] as const;

/**
 * Why `after` may not replace `before` (the same workshop as deployed, e.g. on the base branch): it
 * changes the number of partitions its claims live in once claims opened (or open within
 * SHARDS_FIXED_BEFORE_OPEN_MS), and the claims already written would no longer be found. Names the
 * changed fields and the fix; undefined when the change is fine.
 */
export function shardChangeRefusal(before: Workshop, after: Workshop, nowMs: number): { path: string; message: string } | undefined {
  const from = claimShards(before);
  const to = claimShards(after);
  if (from === to) return undefined;
  const opensAt = Math.min(Date.parse(before.claims_open_at), Date.parse(after.claims_open_at));
  if (opensAt > nowMs + SHARDS_FIXED_BEFORE_OPEN_MS) return undefined;
  const changed = SHARD_FIELDS.filter(([, of]) => of(before) !== of(after));
  // The problem is reported at the first changed field; the others are named after it.
  const what = changed.map(([p, of], i) => `${i === 0 ? "" : `${p} `}${of(before)} → ${of(after)}`).join(", with ");
  const range = (n: number) => (n === 1 ? `at most ${CLAIM_SHARD_PLACES}` : `${(n - 1) * CLAIM_SHARD_PLACES + 1} to ${n * CLAIM_SHARD_PLACES}`);
  return {
    path: changed[0]?.[0] ?? "openrouter.guardrail.max_keys",
    message:
      `${what} changes the workshop's places from ${effectiveCapacity(before)} to ${effectiveCapacity(after)}, ` +
      `and so its claim partitions from ${from} to ${to}, but claims ${opensAt <= nowMs ? "opened" : "open"} at ${new Date(opensAt).toISOString()}: ` +
      `the claims already stored would no longer be found. Keep the places (min(max_keys, floor(cap_usd / budget_usd))) ${range(from)}, ` +
      `or make it a new workshop (a new file and slug)`,
  };
}
