/**
 * The one error family of the domain: the answers a claim can get that are not a key. Each carries
 * a stable `code` (the API's error code) and the context a person needs (e.g. when claims open).
 * The HTTP status is decided in one place, the API's error mapper.
 */

export class DomainError extends Error {
  readonly code: string;
  /** Extra fields for the API's error body, e.g. {opens_at}. */
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DomainError";
    this.code = code;
    this.details = options?.details ?? {};
  }
}

export class WorkshopNotFoundError extends DomainError {
  constructor(readonly slug: string) {
    super("workshop_not_found", `There is no workshop called "${slug}".`);
    this.name = "WorkshopNotFoundError";
  }
}

export class NoClaimError extends DomainError {
  /** `audience`: who reads the message, the attendee themself or an organizer acting on an attendee. */
  constructor(readonly slug: string, audience: "attendee" | "organizer" = "attendee") {
    super("no_claim", audience === "organizer" ? "This attendee has no claim for this workshop." : "You have not claimed a key for this workshop yet.");
    this.name = "NoClaimError";
  }
}

export class SoldOutError extends DomainError {
  constructor(readonly slug: string) {
    super("sold_out", "All keys for this workshop have been handed out.");
    this.name = "SoldOutError";
  }
}

export class EmailAlreadyClaimedError extends DomainError {
  constructor(readonly slug: string) {
    super("email_already_claimed", "A key for this workshop has already been claimed with this email address, by another account.");
    this.name = "EmailAlreadyClaimedError";
  }
}

export class EmailNotVerifiedError extends DomainError {
  constructor() {
    super("email_not_verified", "Your sign-in did not come with a verified email address, which a claim needs. Verify your email and sign in again.");
    this.name = "EmailNotVerifiedError";
  }
}

export class ProfileNotConfirmedError extends DomainError {
  constructor() {
    super("profile_not_confirmed", "Please confirm your profile before claiming a key.");
    this.name = "ProfileNotConfirmedError";
  }
}

export class ClaimsPausedError extends DomainError {
  constructor(readonly slug: string) {
    super("claims_paused", "The organizers have paused claims for this workshop. Please try again in a moment.");
    this.name = "ClaimsPausedError";
  }
}

export class ClaimsNotOpenError extends DomainError {
  constructor(readonly slug: string, readonly opensAt: string) {
    super("claims_not_open", `Claims for this workshop open at ${opensAt}.`, { details: { opens_at: opensAt } });
    this.name = "ClaimsNotOpenError";
  }
}

export class ClaimsClosedError extends DomainError {
  constructor(readonly slug: string, readonly closedAt: string) {
    super("claims_closed", `Claims for this workshop closed at ${closedAt}.`, { details: { closed_at: closedAt } });
    this.name = "ClaimsClosedError";
  }
}

/** The workshop hands out keys only with its room code (`claim_code`), and the claim came without one. */
export class RoomCodeRequiredError extends DomainError {
  constructor(readonly slug: string) {
    super("room_code_required", "Keys for this workshop are handed out in the room: scan the QR code on the screen, or enter the room code shown there.");
    this.name = "RoomCodeRequiredError";
  }
}

/** The room code given is neither the current one nor the previous one within its grace period. */
export class RoomCodeInvalidError extends DomainError {
  constructor(readonly slug: string, rotateMinutes: number) {
    super(
      "room_code_invalid",
      `That room code is not valid now: the code on the screen changes every ${rotateMinutes} minute${rotateMinutes === 1 ? "" : "s"}. Enter the room code shown on the screen.`,
      { details: { rotate_minutes: rotateMinutes } },
    );
    this.name = "RoomCodeInvalidError";
  }
}

/** The claim is not in a state that allows the operation (e.g. revoking a released claim). */
export class ClaimStateError extends DomainError {
  constructor(readonly slug: string, readonly status: string, message: string) {
    super("claim_state", message, { details: { status } });
    this.name = "ClaimStateError";
  }
}

/** OpenRouter could not do its part; nothing was left half-done that the caller must repair. */
export class OpenRouterUnavailableError extends DomainError {
  constructor(message: string, cause?: unknown) {
    super("upstream_unavailable", message, { cause });
    this.name = "OpenRouterUnavailableError";
  }
}

/**
 * One person made too many attempts in this window (a room code's rotation): every claim from them
 * is answered 429 until `retryAt`, whatever code it carries, so guessing tells them nothing more.
 */
export class TooManyAttemptsError extends DomainError {
  constructor(
    readonly slug: string,
    readonly kind: "room_code" | "claim",
    readonly retryAt: number,
    nowMs: number,
  ) {
    const retryAfterSeconds = Math.max(1, Math.ceil((retryAt - nowMs) / 1000));
    const wait = retryAfterSeconds < 90 ? `${retryAfterSeconds} seconds` : `${Math.ceil(retryAfterSeconds / 60)} minutes`;
    super(
      kind === "room_code" ? "too_many_room_codes" : "too_many_claims",
      kind === "room_code"
        ? `Too many wrong room codes. You can try again in ${wait}, when the code on the screen changes.`
        : `Too many claims from your account in a short time. You can try again in ${wait}.`,
      { details: { retry_after_seconds: retryAfterSeconds, retry_at: new Date(retryAt).toISOString() } },
    );
    this.name = "TooManyAttemptsError";
  }

  get retryAfterSeconds(): number {
    return this.details.retry_after_seconds as number;
  }
}

/** A top-up would push the workshop's committed budget above its pooled cap. */
export class PoolTooSmallError extends DomainError {
  constructor(readonly slug: string, requestedUsd: number, availableUsd: number, capUsd: number) {
    super(
      "pool_too_small",
      `The pool cannot cover a top-up of $${requestedUsd.toFixed(2)}: $${availableUsd.toFixed(2)} of the workshop's $${capUsd.toFixed(2)} cap is not committed yet.`,
      { details: { requested_usd: requestedUsd, available_usd: availableUsd, cap_usd: capUsd } },
    );
    this.name = "PoolTooSmallError";
  }
}

/** Another organizer action on the same key is still under way; nothing was changed. */
export class ClaimBusyError extends DomainError {
  constructor(readonly slug: string, message: string) {
    super("claim_busy", message);
    this.name = "ClaimBusyError";
  }
}

/** The workshop's `attendees` rule (email domains, invite list) does not include the caller. */
export class NotAllowedToClaimError extends DomainError {
  constructor(readonly slug: string, message: string, details: Record<string, unknown>) {
    super("not_allowed", message, { details });
    this.name = "NotAllowedToClaimError";
  }
}
