import { createHmac, timingSafeEqual } from "node:crypto";
import { DomainError } from "./errors.js";

/**
 * Projector links: a read-only, expiring address an organizer makes on the dashboard, so the room's
 * laptop shows the room code, its QR code and the counter without an organizer signing in on it.
 * The link carries `<expiry>.<mac>`: an HMAC-SHA256 over the slug and the expiry under a key derived
 * from the deployment's room-code secret with its own label, so it is neither a room code nor a
 * sign-in: the only route that takes it answers the room code of that one workshop, until the
 * expiry. Nothing is stored; a changed slug, expiry or MAC is refused.
 */

/** The longest a link lasts: one workshop day. */
export const PROJECTOR_LINK_MAX_MS = 12 * 60 * 60_000;

const LINK_KEY_LABEL = "projector-link v1";
const TOKEN = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export class ProjectorLinkInvalidError extends DomainError {
  constructor(readonly slug: string) {
    super("projector_link_invalid", "This projector link is not valid: it was changed or cut short. Ask an organizer for a new one (the dashboard's \"Projector link\").");
    this.name = "ProjectorLinkInvalidError";
  }
}

export class ProjectorLinkExpiredError extends DomainError {
  constructor(
    readonly slug: string,
    expiredAt: string,
  ) {
    super("projector_link_expired", "This projector link has expired. Ask an organizer for a new one (the dashboard's \"Projector link\").", { details: { expired_at: expiredAt } });
    this.name = "ProjectorLinkExpiredError";
  }
}

/** The link key: the room-code secret under its own label, so a MAC here is never a room code's. */
function linkKey(secret: Uint8Array): Buffer {
  return createHmac("sha256", secret).update(LINK_KEY_LABEL).digest();
}

function mac(secret: Uint8Array, slug: string, expiresAtS: number): Buffer {
  return createHmac("sha256", linkKey(secret)).update(`${slug}\n${expiresAtS}`).digest();
}

/** The token of a link for `slug` that works until `expiresAtMs` (to the second). */
export function signProjectorLink(secret: Uint8Array, slug: string, expiresAtMs: number): string {
  const expiresAtS = Math.floor(expiresAtMs / 1000);
  return `${expiresAtS}.${mac(secret, slug, expiresAtS).toString("base64url")}`;
}

/** Throws unless `token` is a link for `slug` made with this secret and not expired at `nowMs`. */
export function checkProjectorLink(secret: Uint8Array, slug: string, token: string, nowMs: number): void {
  const m = TOKEN.exec(token);
  if (!m) throw new ProjectorLinkInvalidError(slug);
  const expiresAtS = Number(m[1]);
  // Compared as text: base64url's last character carries unused bits, and a link whose text was
  // changed is not the link that was made, even if it decodes to the same bytes.
  const given = Buffer.from(m[2]!);
  const expected = Buffer.from(mac(secret, slug, expiresAtS).toString("base64url"));
  if (!timingSafeEqual(given, expected)) throw new ProjectorLinkInvalidError(slug);
  // Checked after the MAC: only a genuine link hears that it expired (and when).
  if (nowMs >= expiresAtS * 1000) throw new ProjectorLinkExpiredError(slug, new Date(expiresAtS * 1000).toISOString());
}
