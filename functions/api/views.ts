import { claimWindow, effectiveCapacity, keysLeft, publicWorkshopFacts, type PublicWorkshopFacts, roundUsd } from "../../workshops/derive.js";
import type { Workshop } from "../../workshops/schema.js";
import type { AttendeeItem, ClaimItem, Ledger, WorkshopRecord } from "../data/store.js";
import type { Principal } from "../auth/verify.js";
import type { RoomCodeNow } from "../domain/claims.js";
import type { ConsentAnswer } from "../domain/consent.js";

/** The JSON shapes of the API contract, built from stored items. Pure. */

export interface WorkshopStatus extends PublicWorkshopFacts {
  window: "upcoming" | "open" | "closed";
  paused: boolean;
  state: "upcoming" | "open" | "paused" | "sold_out" | "closed";
  capacity: number;
  claimed: number;
  keys_left: number;
}

export function workshopStatus(w: Workshop, ledger: Ledger, nowMs: number): WorkshopStatus {
  const window = claimWindow(w, nowMs);
  const capacity = effectiveCapacity(w);
  const left = keysLeft(w, ledger);
  const state = window !== "open" ? window : ledger.paused ? "paused" : left === 0 ? "sold_out" : "open";
  return {
    ...publicWorkshopFacts(w),
    window,
    paused: ledger.paused,
    state,
    capacity,
    claimed: ledger.claimed,
    keys_left: left,
  };
}

export function modelsView(w: Workshop) {
  return w.openrouter.models.map((m) => ({
    id: m.id,
    label: m.label,
    note: m.note ?? null,
    price_in_per_mtok: m.price_in_per_mtok ?? null,
    price_out_per_mtok: m.price_out_per_mtok ?? null,
  }));
}

/** The owner's view of their claim: the only shape that ever carries a plaintext key. */
export function myKeyView(claim: ClaimItem, record: WorkshopRecord, baseUrl: string) {
  return {
    slug: record.config.slug,
    status: claim.status,
    key: claim.key ?? null,
    key_name: claim.key_name,
    budget_usd: claim.limit_usd,
    usage_usd: claim.usage_usd ?? 0,
    limit_remaining: claim.limit_remaining ?? roundUsd(claim.limit_usd - (claim.usage_usd ?? 0)),
    expires_at: claim.expires_at,
    claimed_at: claim.claimed_at,
    usage_synced_at: claim.usage_synced_at ?? null,
    revoked_at: claim.revoked_at ?? null,
    expired_at: claim.expired_at ?? null,
    base_url: baseUrl,
    models: modelsView(record.config),
  };
}

/**
 * The room code as the projector and the dashboard read it: `enabled: false` for a workshop without
 * one, `closed: true` (and no code) once claims are closed.
 */
export function roomCodeView(slug: string, room: RoomCodeNow | undefined, nowMs: number) {
  if (!room) return { enabled: false };
  const now = new Date(nowMs).toISOString();
  if (room.closed) return { enabled: true, closed: true, now };
  const { code, validFrom, rotatesAt } = room.current;
  return {
    enabled: true,
    closed: false,
    code,
    rotate_minutes: room.policy.rotate_minutes,
    grace_minutes: room.policy.grace_minutes,
    valid_from: new Date(validFrom).toISOString(),
    rotates_at: new Date(rotatesAt).toISOString(),
    now,
    claim_path: `/w/${slug}?code=${code}`,
  };
}

/** An organizer's view of a claim: never the key itself. */
export function adminClaimView(claim: ClaimItem, attendee?: AttendeeItem) {
  return {
    user_id: claim.user_id,
    email: claim.email,
    display_name: attendee?.display_name ?? claim.display_name ?? null,
    status: claim.status,
    usage_usd: claim.usage_usd ?? 0,
    limit_usd: claim.limit_usd,
    key_name: claim.key_name,
    claimed_at: claim.claimed_at,
    usage_synced_at: claim.usage_synced_at ?? null,
    revoked_at: claim.revoked_at ?? null,
    /** Revoked claims: the unspent budget given back to the pool (null until it is). */
    returned_usd: claim.returned_usd ?? null,
    last_error: claim.last_error ?? null,
    /** Revoked claims an organizer allowed to claim again (not yet claimed). */
    reallowed_at: claim.reallowed_at ?? null,
    /** Keys revoked before the current one, and what they spent (it stays committed). */
    earlier_keys: (claim.earlier_keys ?? []).map((k) => ({ limit_usd: k.limit_usd, usage_usd: k.usage_usd, returned_usd: k.returned_usd, revoked_at: k.revoked_at ?? null })),
    /** Claims made by an organizer for someone in the room: who. */
    handed_out_by: claim.handed_out_by ?? null,
    /** Only for UNBOUND: why, in plain words (the key works on every model until it is bound). */
    unbound_reason: claim.status === "UNBOUND" ? (claim.unbound_reason ?? "The key could not be attached to the workshop's model allowlist yet.") : null,
  };
}

/** `consent`: the attendee's answer for the workshop the page asked about (`?workshop=`), if it asked. */
export function profileView(principal: Principal, attendee: AttendeeItem | undefined, organizerOf: string[], consent?: { workshop: string; answer: ConsentAnswer }) {
  return {
    user_id: principal.sub,
    email: principal.email ?? null,
    email_verified: principal.emailVerified,
    display_name: attendee?.display_name ?? principal.name ?? null,
    confirmed: Boolean(attendee?.confirmed_at),
    consent: consent ? { workshop: consent.workshop, decided: consent.answer.decided, marketing_opted_in: consent.answer.marketing_opted_in } : null,
    is_admin: principal.isAdmin,
    organizer_of: organizerOf,
  };
}

/**
 * RFC 4180 CSV that a spreadsheet opens as text, never as formulas. Every cell is quoted. A formula
 * can start a cell (`=`, `+`, `-`, `@`, and a tab or CR before them) and, since spreadsheets also
 * split cells on `;` and tab when they guess the separator, right after a `;` or tab inside one:
 * each such start gets a leading `'`, which spreadsheets treat as "this is text".
 */
export function toCsv(header: string[], rows: (string | null | undefined)[][]): string {
  const cell = (v: string | null | undefined) => `"${neutralizeFormulas(v ?? "").replaceAll('"', '""')}"`;
  return [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

// Every position at a cell's start or after a `;` or tab, followed by a formula's first character.
const FORMULA_START = /(?<=^|[;\t])(?=[=+\-@\t\r])/g;

export function neutralizeFormulas(s: string): string {
  return s.replace(FORMULA_START, "'");
}
