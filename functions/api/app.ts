import { Hono } from "hono/tiny";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { AuthError, type VerifyToken } from "../auth/index.js";
import type { Store } from "../data/store.js";
import type { ClaimEngine } from "../domain/claims.js";
import { DomainError, TooManyAttemptsError } from "../domain/errors.js";
import type { WorkshopCatalog } from "../domain/workshops.js";
import { defaultEventLog } from "../observability/log.js";
import type { HealthCounters } from "../observability/health.js";
import { attendeeRoutes } from "./attendee-routes.js";
import { healthRoutes } from "./health-routes.js";
import { organizerRoutes } from "./organizer-routes.js";
import { PUBLIC_STATUS_CACHE_CONTROL, publicRoutes } from "./public-routes.js";
import { ApiError, MAX_BODY_BYTES, type Env } from "./request.js";

export { ApiError, MAX_BODY_BYTES } from "./request.js";
export { PUBLIC_STATUS_CACHE_CONTROL } from "./public-routes.js";

/**
 * The HTTP API (contract: api.md), one Hono app for the Lambda (API Gateway adapter) and the local
 * stack. Handlers parse, call the domain and shape the answer; every error becomes
 * {error:{code,message}} in one place (`onError`). The routes live by who calls them:
 * public-routes.ts, attendee-routes.ts, organizer-routes.ts; this file holds what every answer
 * shares (headers, cache control, CORS, body limit, error mapping).
 */

export interface AppDeps {
  store: Store;
  engine: ClaimEngine;
  workshops: WorkshopCatalog;
  verifyToken: VerifyToken;
  /** The workshop clock (epoch ms). */
  now: () => number;
  /** The OpenRouter-compatible base URL attendees call (shown on the key page). */
  attendeeBaseUrl: string;
  /** Browser origins allowed to call the API cross-origin (none: same-origin only). */
  allowedOrigins?: string[];
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** In-process counters for the organizer's health panel (the local stack; none in the Lambda). */
  health?: HealthCounters;
}

const DOMAIN_STATUS: Record<string, 403 | 404 | 409 | 423 | 429 | 503> = {
  room_code_required: 403,
  not_allowed: 403,
  room_code_invalid: 403,
  projector_link_invalid: 403,
  projector_link_expired: 403,
  no_room_code: 409,
  workshop_not_found: 404,
  no_claim: 404,
  sold_out: 409,
  email_already_claimed: 409,
  profile_not_confirmed: 409,
  email_not_verified: 409,
  claim_state: 409,
  claim_busy: 409,
  pool_too_small: 409,
  claims_paused: 423,
  claims_not_open: 423,
  claims_closed: 423,
  too_many_room_codes: 429,
  too_many_claims: 429,
  upstream_unavailable: 503,
};

export function createApp(deps: AppDeps) {
  const log = deps.log ?? defaultEventLog;
  const app = new Hono<Env>();

  app.use("*", secureHeaders({ crossOriginResourcePolicy: "same-site", referrerPolicy: "no-referrer" }));
  app.use("*", async (c, next) => {
    await next();
    // Answers carry keys and personal data: never cached anywhere, unless a public route said so
    // for its successful answer (errors always replace the route's answer, so they are never cached).
    if (c.res.headers.get("Cache-Control") !== PUBLIC_STATUS_CACHE_CONTROL || !c.res.ok) c.header("Cache-Control", "no-store");
  });
  if (deps.allowedOrigins?.length) {
    app.use("/api/*", cors({ origin: deps.allowedOrigins, allowHeaders: ["Authorization", "Content-Type"], allowMethods: ["GET", "POST", "PUT", "OPTIONS"], maxAge: 600 }));
  }
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json({ error: { code: "body_too_large", message: `The request body must be at most ${MAX_BODY_BYTES} bytes.` } }, 400),
    }),
  );

  // Registered in this order, which is the order Hono runs them in: the public routes before any
  // authentication middleware, the attendee's before the organizer's.
  publicRoutes(app, deps);
  attendeeRoutes(app, deps);
  organizerRoutes(app, { ...deps, log });
  healthRoutes(app, deps);

  // ── errors, in one place ─────────────────────────────────────────────────────────────────────
  app.notFound((c) => c.json({ error: { code: "not_found", message: "There is no such API route." } }, 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json({ error: { code: err.code, message: err.message } }, err.status);
    if (err instanceof AuthError) {
      c.header("WWW-Authenticate", 'Bearer error="invalid_token"');
      return c.json({ error: { code: "unauthorized", message: err.message } }, 401);
    }
    if (err instanceof DomainError) {
      const status = DOMAIN_STATUS[err.code] ?? 500;
      if (err instanceof TooManyAttemptsError) c.header("Retry-After", String(err.retryAfterSeconds));
      if (status >= 500) log("request_failed", { path: c.req.path, code: err.code, error: err.message, cause: err.cause instanceof Error ? `${err.cause.name}: ${err.cause.message}` : undefined });
      return c.json({ error: { code: err.code, message: err.message, ...err.details } }, status);
    }
    log("request_failed", { path: c.req.path, method: c.req.method, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    return c.json({ error: { code: "internal", message: "Something went wrong on our side. Please try again." } }, 500);
  });

  return app;
}
