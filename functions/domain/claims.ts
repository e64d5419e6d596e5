import { createHash, randomUUID } from "node:crypto";
import { claimWindow, effectiveCapacity, keyExpiresAt, keyName, roundUsd } from "../../workshops/derive.js";
import type { ClaimCodePolicy, Workshop } from "../../workshops/schema.js";
import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem, ClaimReads, ClaimStatus, Ledger, WorkshopRecord } from "../data/store.js";
import { attemptRefusal, attemptWindow, countClaim, countWrongRoomCode } from "./attempts.js";
import { bind, retryBinding } from "./bind.js";
import { unboundReason } from "./unbound.js";
import { normalizeEmail } from "./email.js";
import { createEngineDeps, describe, type ClaimEngineOptions, type EngineDeps, type Governance } from "./engine-deps.js";
import { getMyKey, refreshUsage } from "./my-key.js";
import { allowAgain, claimAgain, claimOnBehalf } from "./reallow.js";
import { reissueMissingKey } from "./reissue.js";
import { revoke } from "./revoke.js";
import { takeOverStuck } from "./takeover.js";
import { admissionRefusal } from "./who-may-claim.js";
import { topUp } from "./top-up.js";
import {
  ClaimsClosedError,
  ClaimsNotOpenError,
  ClaimsPausedError,
  DomainError,
  EmailAlreadyClaimedError,
  NoClaimError,
  OpenRouterUnavailableError,
  RoomCodeInvalidError,
  RoomCodeRequiredError,
  SoldOutError,
  TooManyAttemptsError,
} from "./errors.js";
import { checkProjectorLink, PROJECTOR_LINK_MAX_MS, signProjectorLink } from "./projector-link.js";
import { currentRoomCode, isRoomCodeValid, normalizeRoomCode, type CurrentRoomCode } from "./room-code.js";

/** A workshop's room code as its projector shows it: the current one, or none since claims closed. */
export type RoomCodeNow = { policy: ClaimCodePolicy; closed: false; current: CurrentRoomCode } | { policy: ClaimCodePolicy; closed: true };

/**
 * The claim engine: one personal key per (workshop, person), never more keys than the ledger
 * allows, never a second key for a repeated or concurrent claim.
 *
 *   RESERVED ──mint, govern──► ACTIVE | UNBOUND, one write         (this file)
 *   MINTED (left by versions before issue #24) ──bind──► ACTIVE | UNBOUND   (bind.ts)
 *      │  └─ past its lease: taken over, mints again                (takeover.ts)
 *      └─ mint failed for good ──► RELEASED                         (this file)
 *   MINTED | ACTIVE | UNBOUND ──► REVOKED                            (revoke.ts)
 *                             ──► EXPIRED, plaintext scrubbed        (the expire job)
 *                             ──► RESERVED when upstream lost the key (reissue.ts)
 *
 * The claim path:
 *
 *   claim ──► claim item (attribute_not_exists)      one claim per user
 *         ──► ledger ADD (claimed < max AND committed <= cap - budget AND not paused)
 *         ──► email lock (absent or this user's), recording the claim's attempt
 *             refused at any step: undo what this attempt wrote, answer sold_out / paused / email
 *         ──► POST /keys (name from the claim, limit = budget, expires_at with seconds)
 *             fails for good: RELEASED, slot + budget + email lock given back (a first key only:
 *             a re-issue stays RESERVED for a take-over)
 *             (governance "workspace": POST /keys into the workshop's workspace, whose default
 *             guardrail governs it at once; no workspace: refused like a failed mint, RELEASED)
 *         ──► assign to the workshop's guardrail (the key is governed before anyone sees it;
 *             "assignment" only)
 *         ──► key stored, only if the claim is still RESERVED by this attempt ──► ACTIVE, or
 *             UNBOUND when the assignment failed (the key still works; bound later)
 *
 * The email lock is written only after the slot, and names the attempt that reserved it: a lock
 * naming a claim's current attempt is the proof that the claim holds its slot. A claim left
 * RESERVED past its lease (a crashed container) is taken over: with that proof the lock passes to
 * the new attempt; without it the slot and lock are reserved again (refused like a new claim),
 * since a process can die between the claim item and its slot. Doubt costs a leaked slot (one key
 * fewer), never a key the ledger does not count. Then any upstream key with the claim's name is
 * deleted (its plaintext was never stored) and minting repeats.
 */

export interface Claimant {
  /** The token's subject: the owner of the key, never taken from the request. */
  userId: string;
  /** A verified email address. */
  email: string;
  displayName?: string;
  /** The room code the attendee scanned or typed (workshops with `claim_code`). */
  roomCode?: string;
  /** An organizer claims for this person in the room (reallow.ts claimOnBehalf): no room code needed. */
  inRoomByOrganizer?: boolean;
}

export interface ClaimOutcome {
  claim: ClaimItem;
  /** True when this call reserved the claim (201), false when it found an existing one (200). */
  created: boolean;
  workshop: WorkshopRecord;
}

export { boundTransition } from "./bind.js";
export type { ClaimEngineOptions } from "./engine-deps.js";

export type ClaimEngine = ReturnType<typeof createClaimEngine>;

/** Deterministic per (workshop, user), so the key name is known before the key exists. */
export function claimIdFor(slug: string, userId: string): string {
  return createHash("sha256").update(`${slug}\n${userId}`).digest("base64url").slice(0, 22);
}

/** How often an attendee's key page may read the key's usage live from OpenRouter. */
export const USAGE_CHECK_INTERVAL_MS = 30_000;

/** States in which the claim holds a working (or once-working) key. */
export const KEY_HOLDING: readonly ClaimStatus[] = ["MINTED", "ACTIVE", "UNBOUND"];

/** What the claim's current key may spend: its budget, less what earlier keys of it spent before upstream lost them. */
export const budgetLeft = (c: ClaimItem): number => roundUsd(c.limit_usd - (c.carried_usage_usd ?? 0));

/** What a claim's keys have spent: its key's usage upstream, plus what earlier keys of it spent before upstream lost them (re-issue). */
export function claimUsageUsd(c: Pick<ClaimItem, "carried_usage_usd">, keyUsageUsd: number): number {
  return roundUsd((c.carried_usage_usd ?? 0) + keyUsageUsd);
}

export function createClaimEngine(opts: ClaimEngineOptions) {
  const d = createEngineDeps(opts);
  const { store, workshops, now } = d;

  const roomCodeNow = async (slug: string): Promise<RoomCodeNow | undefined> => {
    const w = (await workshops.get(slug)).config;
    if (!w.claim_code) return undefined;
    if (claimWindow(w, now()) === "closed") return { policy: w.claim_code, closed: true };
    return { policy: w.claim_code, closed: false, current: currentRoomCode(await d.roomCodeSecret(), slug, w.claim_code, now()) };
  };

  return {
    /**
     * Held to the person's attempt limits (attempts.ts): refused with 429 when the counts read are at
     * a limit; a claim that does not create a key is counted once answered (past the limit, 429).
     * `read`: the ledger and counts when the caller read them already (with the attendee, one
     * BatchGet); read here when absent or of an earlier attempt window.
     */
    async claim(slug: string, who: Claimant, read?: ClaimReads): Promise<ClaimOutcome> {
      const w = (await workshops.get(slug)).config;
      const at = now();
      const window = attemptWindow(w, at);
      const reads = read?.attemptWindow === window.id ? read : await store.getClaimReads(who.userId, slug, window.id, { withAttendee: false });
      const tooMany = attemptRefusal(w, reads.attempts, window, at);
      if (tooMany) throw tooMany;
      let outcome: ClaimOutcome;
      try {
        outcome = await claim(d, slug, who, 1, reads.ledger);
      } catch (err) {
        // A wrong room code was counted, with its claim, where it was judged.
        if (!(err instanceof RoomCodeInvalidError || err instanceof TooManyAttemptsError)) await countClaim(store, w, who.userId, at);
        throw err;
      }
      if (!outcome.created) await countClaim(store, w, who.userId, at);
      return outcome;
    },

    /**
     * The workshop's current room code, for its organizers (undefined: the workshop has none). Once
     * claims are closed (and so after expiry) there is none to show: a code would admit nobody.
     */
    roomCode: roomCodeNow,

    /**
     * A read-only projector link's token (projector-link.ts) for a workshop with a room code: it
     * works until claims close, for at most PROJECTOR_LINK_MAX_MS.
     */
    async projectorLink(slug: string): Promise<{ token: string; expiresAt: number }> {
      const w = (await workshops.get(slug)).config;
      if (!w.claim_code) throw new DomainError("no_room_code", "This workshop has no room code: its projector page needs no link.");
      const at = now();
      if (claimWindow(w, at) === "closed") throw new ClaimsClosedError(slug, w.claims_close_at);
      const expiresAt = Math.min(Date.parse(w.claims_close_at), at + PROJECTOR_LINK_MAX_MS);
      return { token: signProjectorLink(await d.roomCodeSecret(), slug, expiresAt), expiresAt };
    },

    /** The room code, for whoever holds a projector link of this workshop (refused: the link's own error). */
    async roomCodeForLink(slug: string, token: string): Promise<RoomCodeNow | undefined> {
      await workshops.get(slug);
      checkProjectorLink(await d.roomCodeSecret(), slug, token, now());
      return roomCodeNow(slug);
    },

    /** The caller's own claim (any state; one abandoned mid-way is finished first), or NoClaimError. */
    getMyKey: (slug: string, userId: string) => getMyKey(d, slug, userId),

    reissueMissingKey: (slug: string, userId: string, missingHash: string, opts: { answered404?: boolean } = {}) => reissueMissingKey(d, slug, userId, missingHash, opts),

    /** Assigns an UNBOUND (or stuck MINTED) key to the workshop's guardrail; ACTIVE on success. */
    retryBinding: (slug: string, userId: string) => retryBinding(d, slug, userId),

    /** See `revoke` in revoke.ts. */
    revoke: (slug: string, userId: string) => revoke(d, slug, userId),

    /** The owner's key with its usage, read live from OpenRouter at most once per `minIntervalMs`. */
    refreshUsage: (slug: string, userId: string, minIntervalMs = USAGE_CHECK_INTERVAL_MS) => refreshUsage(d, slug, userId, minIntervalMs),

    takeOverStuck: (slug: string, stuck: ClaimItem) => takeOverStuck(d, slug, stuck),

    /** See reallow.ts: after a revoke, the person may claim one new key. */
    allowAgain: (slug: string, userId: string) => allowAgain(d, slug, userId),

    /** See reallow.ts: an organizer claims for an email; the answer carries the key once. */
    claimOnBehalf: (slug: string, who: { email: string; displayName?: string; by: string }) => claimOnBehalf(d, (s, c) => claim(d, s, c), slug, who),

    /** See `topUp` in top-up.ts. */
    topUp: (slug: string, userId: string, amountUsd: number) => topUp(d, slug, userId, amountUsd),

    async pause(slug: string): Promise<Ledger> {
      await workshops.get(slug);
      return store.setPaused(slug, true);
    },

    async resume(slug: string): Promise<Ledger> {
      await workshops.get(slug);
      return store.setPaused(slug, false);
    },

    /** The workshop's guardrail id: from its item, or found/created once and recorded there. */
    guardrailId: async (slug: string) => d.guardrailIdFor(await workshops.get(slug)),

    /** How this engine governs keys, and (for a workshop) where: its guardrail, or its workspace and that workspace's default guardrail. */
    governance: async (slug: string) => d.governanceFor(await workshops.get(slug)),
  };
}

/** A workshop with `claim_code` hands out keys only for its current room code (or the previous one, within its grace). */
async function roomCodeRefusal(d: EngineDeps, w: Workshop, who: Claimant, at: number): Promise<DomainError | undefined> {
  if (!w.claim_code || who.inRoomByOrganizer) return undefined;
  const given = who.roomCode;
  if (given === undefined || normalizeRoomCode(given) === "") return new RoomCodeRequiredError(w.slug);
  return isRoomCodeValid(await d.roomCodeSecret(), w.slug, w.claim_code, given, at) ? undefined : new RoomCodeInvalidError(w.slug, w.claim_code.rotate_minutes);
}

/** Why a new claim cannot be reserved right now, read before writing anything. */
function refusalFor(d: EngineDeps, w: Workshop, ledger: Ledger, at: number): DomainError | undefined {
  const window = claimWindow(w, at);
  if (window === "upcoming") return new ClaimsNotOpenError(w.slug, w.claims_open_at);
  if (window === "closed") return new ClaimsClosedError(w.slug, w.is_active ? w.claims_close_at : new Date(Math.min(at, Date.parse(w.claims_close_at))).toISOString());
  // A key minted now would already be expired (claims close after the keys expire: a config warning).
  const expiresAt = keyExpiresAt(w);
  if (Date.parse(expiresAt) <= at) return new ClaimsClosedError(w.slug, expiresAt);
  if (ledger.paused) return new ClaimsPausedError(w.slug);
  const { budget_usd, guardrail } = w.openrouter;
  if (effectiveCapacity(w) === 0 || ledger.claimed >= guardrail.max_keys || ledger.committed_usd + budget_usd > guardrail.cap_usd + 1e-9) {
    return new SoldOutError(w.slug);
  }
  return undefined;
}

async function claim(d: EngineDeps, slug: string, who: Claimant, retries = 1, ledger?: Ledger): Promise<ClaimOutcome> {
  const record = await d.workshops.get(slug);
  const w = record.config;
  const at = d.now();
  const refusal = refusalFor(d, w, ledger ?? (await d.store.getLedger(slug)), at) ?? (await roomCodeRefusal(d, w, who, at)) ?? (await admissionRefusal(d.store, w, who.email));
  if (refusal) {
    // Someone who already holds a claim gets it back, whatever the window or ledger say now.
    const existing = await d.store.getClaim(slug, who.userId);
    if (existing && existing.status !== "RELEASED") return { claim: await settle(d, record, existing, who, retries), created: false, workshop: record };
    if (refusal instanceof RoomCodeInvalidError) await countWrongRoomCode(d.store, w, who.userId, at);
    throw refusal;
  }

  const claimId = claimIdFor(slug, who.userId);
  const reserved: ClaimItem = {
    slug,
    user_id: who.userId,
    email: who.email,
    email_normalized: normalizeEmail(who.email),
    ...(who.displayName ? { display_name: who.displayName } : {}),
    claim_id: claimId,
    status: "RESERVED",
    key_name: keyName(w, claimId, record.key_namespace),
    limit_usd: w.openrouter.budget_usd,
    expires_at: keyExpiresAt(w),
    usage_usd: 0,
    reserved_at: new Date(at).toISOString(),
    lease_until: at + d.leaseMs,
    attempt: randomUUID(),
    claimed_at: new Date(at).toISOString(),
    updated_at: new Date(at).toISOString(),
  };

  try {
    await d.store.createClaim(reserved);
  } catch (err) {
    if (!(err instanceof ConditionRefusedError)) throw err;
    const existing = err.existing as ClaimItem | undefined;
    if (!existing) {
      // It vanished between the write and the read (a compensation): start over once.
      if (retries > 0) return claim(d, slug, who, retries - 1);
      throw new OpenRouterUnavailableError("Your claim could not be completed. Please try again.");
    }
    if (existing.status === "REVOKED" && existing.reallowed_at) return claimAgain(d, record, existing);
    return { claim: await settle(d, record, existing, who, retries), created: false, workshop: record };
  }

  await acquire(d, w, reserved);
  return { claim: await mint(d, record, reserved), created: true, workshop: record };
}

/**
 * Reserves the claim's slot, then locks its normalized email for its attempt (the lock is the
 * proof of the slot, so it comes second). On a refusal the claim item is deleted and the slot
 * given back, and the refusal is thrown as the answer a new claim gets.
 */
export async function acquire(d: EngineDeps, w: Workshop, reserved: ClaimItem): Promise<void> {
  const slug = reserved.slug;
  const compensationFailed = (e: unknown) => d.log("compensation_failed", { slug, user_id: reserved.user_id, error: describe(e) });
  const deleteClaim = () => d.store.deleteReservedClaim(slug, reserved.user_id, reserved.attempt).catch(compensationFailed);

  try {
    await d.store.reserveSlot(slug, {
      maxKeys: w.openrouter.guardrail.max_keys,
      capUsd: w.openrouter.guardrail.cap_usd,
      budgetUsd: w.openrouter.budget_usd,
    });
  } catch (err) {
    // Refused: no slot was taken. Any other error: the slot may have been taken; it stays
    // (a leak) rather than be given back unproven.
    await deleteClaim();
    if (err instanceof ConditionRefusedError) throw (err.existing as Ledger | undefined)?.paused ? new ClaimsPausedError(slug) : new SoldOutError(slug);
    throw err;
  }

  try {
    await d.store.lockEmail(slug, reserved.email_normalized, reserved.user_id, reserved.attempt, reserved.expires_at);
  } catch (err) {
    if (err instanceof ConditionRefusedError) {
      // Another account holds the email: nothing of ours was locked, so the slot goes back.
      await Promise.all([deleteClaim(), d.store.releaseSlot(slug, reserved.limit_usd).catch(compensationFailed)]);
      throw new EmailAlreadyClaimedError(slug);
    }
    // The lock may have been written: the slot goes back only once no lock of this attempt can
    // remain to vouch for it.
    const unlocked = await d.store.unlockEmail(slug, reserved.email_normalized, reserved.user_id, reserved.attempt).then(
      () => true,
      (e) => (compensationFailed(e), false),
    );
    await Promise.all([deleteClaim(), unlocked ? d.store.releaseSlot(slug, reserved.limit_usd).catch(compensationFailed) : undefined]);
    throw err;
  }
}

/**
 * A claim found in place of a new one. While another attempt is minting or binding it (RESERVED,
 * MINTED), wait briefly for it to settle; past its lease, take it over (RESERVED) or bind it here
 * (MINTED), so a repeated claim answers the settled state (ACTIVE or UNBOUND), not a midway one.
 */
async function settle(d: EngineDeps, record: WorkshopRecord, found: ClaimItem, who: Claimant | undefined, retries: number): Promise<ClaimItem> {
  const slug = record.config.slug;
  const deadline = Date.now() + d.waitMs;
  let current: ClaimItem | undefined = found;
  while (current && (current.status === "RESERVED" || current.status === "MINTED")) {
    const waitedEnough = current.lease_until <= d.now() || Date.now() >= deadline;
    if (current.status === "MINTED" && waitedEnough) return bind(d, record, current, d.guardrailIdFor(record), false);
    if (current.lease_until <= d.now()) return takeOverStuck(d, slug, current);
    if (Date.now() >= deadline) return current;
    await d.sleep(d.pollMs);
    current = await d.store.getClaim(slug, found.user_id);
  }
  if (!current || current.status === "RELEASED") {
    // The attempt we waited for was refused or failed; this request gets its own answer.
    if (who && retries > 0) return (await claim(d, slug, who, retries - 1)).claim;
    throw new OpenRouterUnavailableError("Your key could not be created just now. Nothing was used up; please try again in a minute.");
  }
  return current;
}

/** `reserved` is RESERVED by this attempt and provably holds its slot (acquired, or proven at take-over). */
export async function mint(d: EngineDeps, record: WorkshopRecord, reserved: ClaimItem): Promise<ClaimItem> {
  const slug = record.config.slug;
  // Started now, awaited after the mint: under "assignment" the guardrail lookup never delays the key.
  const governance = d.governanceFor(record);
  governance.catch(() => {});

  // Under "workspace" the key is made inside the workshop's workspace, whose default guardrail
  // governs it from its first request: the workspace comes first. Without one there is no safe key
  // to hand out (a key outside it would carry no allow-list, and none can be assigned later by this
  // deployment's sync, which reads the workspace only), so the claim is refused as a failed mint is.
  let workspace: Extract<Governance, { mode: "workspace" }> | undefined;
  if (d.governance === "workspace") {
    try {
      const g = await governance;
      if (g.mode === "workspace") workspace = g;
    } catch (err) {
      d.log("workspace_unavailable", { slug, user_id: reserved.user_id, error: describe(err) });
      throw await mintFailed(d, reserved, err);
    }
  }

  let created;
  try {
    created = await d.openrouter.createKey({
      name: reserved.key_name,
      limit: budgetLeft(reserved),
      expires_at: reserved.expires_at,
      ...(workspace ? { workspace_id: workspace.workspaceId } : {}),
    });
  } catch (err) {
    d.log("mint_failed", { slug, user_id: reserved.user_id, error: describe(err) });
    throw await mintFailed(d, reserved, err);
  }

  // The key is governed (in its workspace, or assigned to the workshop's guardrail) before it is
  // stored, and stored once, already ACTIVE: never shown before its allow-list applies, and one claim
  // write instead of two. A crash in between leaves the claim RESERVED and the key upstream under
  // the claim's name: the take-over past the lease (key page, sync) deletes that key and mints again.
  const governed: Governed = workspace
    ? { ok: true, guardrailId: workspace.guardrailId }
    : await govern(
        d,
        governance.then((g) => g.guardrailId),
        { slug, user_id: reserved.user_id, key_hash: created.hash },
      );
  const at = d.iso();
  const set: Partial<ClaimItem> =
    governed.ok
      ? { status: "ACTIVE", key_hash: created.hash, key: created.key, guardrail_id: governed.guardrailId, bound_at: at, updated_at: at }
      : { status: "UNBOUND", key_hash: created.hash, key: created.key, last_error: describe(governed.error), unbound_reason: unboundReason(governed.error, governed.step), updated_at: at };
  try {
    return await d.store.transitionClaim(slug, reserved.user_id, { from: ["RESERVED"], attempt: reserved.attempt, set, ...(governed.ok ? { remove: ["last_error", "unbound_reason"] as const } : {}) });
  } catch (err) {
    if (err instanceof ConditionRefusedError) {
      // Taken over while this attempt was minting: this key is an orphan under the claim's name.
      await d.openrouter.deleteKey(created.hash).catch((e) => d.log("orphan_delete_failed", { slug, key_hash: created.hash, error: describe(e) }));
      const current = err.existing as ClaimItem | undefined;
      if (current) return settle(d, record, current, undefined, 0);
      throw new NoClaimError(slug);
    }
    throw err;
  }
}

/**
 * No key was made. A claim that held a key before (a re-issue, or a take-over of one) keeps its
 * slot: what its lost key spent is committed, and its owner already had a key. It stays RESERVED
 * under this attempt's lease, and a take-over (the key page, the next sync) mints again. A first
 * key gives its slot back. Answers the error to throw.
 */
async function mintFailed(d: EngineDeps, reserved: ClaimItem, err: unknown): Promise<OpenRouterUnavailableError> {
  if (reserved.reissued_at === undefined) await release(d, reserved, describe(err));
  return new OpenRouterUnavailableError("OpenRouter could not create your key just now. Nothing was used up; please try again in a minute.", err);
}

type Governed = { ok: true; guardrailId: string } | { ok: false; error: unknown; step: "guardrail" | "assign" };

/** Assigns a new key to the workshop's guardrail; a failure leaves the key working, UNBOUND (bound later by the sync or an organizer). */
async function govern(d: EngineDeps, guardrail: Promise<string>, key: { slug: string; user_id: string; key_hash: string }): Promise<Governed> {
  let guardrailId: string;
  try {
    guardrailId = await guardrail;
  } catch (error) {
    d.log("bind_failed", { ...key, error: describe(error) });
    return { ok: false, error, step: "guardrail" };
  }
  try {
    await d.openrouter.assignKeys(guardrailId, [key.key_hash]);
    return { ok: true, guardrailId };
  } catch (error) {
    d.log("bind_failed", { ...key, error: describe(error) });
    return { ok: false, error, step: "assign" };
  }
}

/**
 * Mint failed for good: the claim gives back its slot, its budget and the email lock. Only from
 * mint(d, ), whose claim provably holds its slot; the RELEASED write, conditional on the attempt,
 * makes sure no take-over has the claim (and the slot) now.
 */
async function release(d: EngineDeps, reserved: ClaimItem, reason: string): Promise<void> {
  const slug = reserved.slug;
  try {
    await d.store.transitionClaim(slug, reserved.user_id, {
      from: ["RESERVED"],
      attempt: reserved.attempt,
      set: { status: "RELEASED", released_at: d.iso(), last_error: reason, updated_at: d.iso() },
    });
  } catch (err) {
    // Another attempt owns the claim now; the slot is its to keep.
    if (err instanceof ConditionRefusedError) return;
    throw err;
  }
  await d.store.releaseSlot(slug, reserved.limit_usd);
  // Conditional on this attempt: once RELEASED, the same user's next claim may already have
  // locked the email for itself, and that lock is not ours to remove.
  await d.store.unlockEmail(slug, reserved.email_normalized, reserved.user_id, reserved.attempt);
}

