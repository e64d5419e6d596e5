import { createHmac, timingSafeEqual } from "node:crypto";
import type { ClaimCodePolicy } from "../../workshops/schema.js";

/**
 * Room codes: the short code a workshop's projector shows, without which its keys cannot be
 * claimed (`claim_code` in the workshop file). A code is derived, never stored: an HMAC of the
 * workshop and the current time step under a deployment secret that stays on the server, so only
 * someone who can see the screen in the room (or an organizer) knows it, and a code someone posts
 * online stops working within minutes.
 *
 *   step n-1            step n (the current code)            step n+1
 *   ──────────┼──────────────────────────────────────┼──────────
 *             ├─ grace ─┤ the previous code is still accepted here
 */

/**
 * Read off a screen across a room and typed on a phone: no 0/O or 1/I/L look-alikes (and, as in
 * Crockford's base 32, no U). 30^6 is about 729 million codes.
 */
export const ROOM_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
export const ROOM_CODE_LENGTH = 6;

const MINUTE_MS = 60_000;

/** The time step `nowMs` falls in: codes change at each multiple of `rotate_minutes` since the epoch. */
export function roomCodeStep(policy: ClaimCodePolicy, nowMs: number): number {
  return Math.floor(nowMs / (policy.rotate_minutes * MINUTE_MS));
}

/** The code of `slug` for one time step. Each character takes 32 bits of the HMAC, so no letter is noticeably likelier. */
export function roomCodeAt(secret: Uint8Array, slug: string, policy: ClaimCodePolicy, step: number): string {
  const mac = createHmac("sha256", secret).update(`room-code\n${slug}\n${policy.rotate_minutes}\n${step}`).digest();
  let code = "";
  for (let i = 0; i < ROOM_CODE_LENGTH; i++) code += ROOM_CODE_ALPHABET[mac.readUInt32BE(i * 4) % ROOM_CODE_ALPHABET.length];
  return code;
}

/** What a person typed, as a code: case, spaces and dashes do not matter. */
export function normalizeRoomCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]+/g, "");
}

export interface CurrentRoomCode {
  code: string;
  /** When this code appeared and when the next one replaces it (epoch ms). */
  validFrom: number;
  rotatesAt: number;
}

export function currentRoomCode(secret: Uint8Array, slug: string, policy: ClaimCodePolicy, nowMs: number): CurrentRoomCode {
  const step = roomCodeStep(policy, nowMs);
  const period = policy.rotate_minutes * MINUTE_MS;
  return { code: roomCodeAt(secret, slug, policy, step), validFrom: step * period, rotatesAt: (step + 1) * period };
}

/** Whether `input` is the current code, or the previous one within its grace period. */
export function isRoomCodeValid(secret: Uint8Array, slug: string, policy: ClaimCodePolicy, input: string, nowMs: number): boolean {
  const given = Buffer.from(normalizeRoomCode(input));
  const step = roomCodeStep(policy, nowMs);
  const inGrace = nowMs < step * policy.rotate_minutes * MINUTE_MS + policy.grace_minutes * MINUTE_MS;
  const candidates = inGrace ? [step, step - 1] : [step];
  let valid = false;
  // Every candidate is compared, in constant time, so the answer's timing says nothing about the code.
  for (const s of candidates) {
    const expected = Buffer.from(roomCodeAt(secret, slug, policy, s));
    if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
  }
  return valid;
}
