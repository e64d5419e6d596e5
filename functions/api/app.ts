import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
// zod/mini (as workshops/schema.ts): the same checks and messages, a fraction of the bundle.
import * as z from "zod/mini";
import { SLUG_PATTERN } from "../../workshops/schema.js";
import { roundUsd } from "../../workshops/derive.js";
import { AuthError, bearerToken, isOrganizer, type Principal, type VerifyToken } from "../auth/index.js";
import type { Store, WorkshopRecord } from "../data/store.js";
import type { ClaimEngine } from "../domain/claims.js";
import { consentForWorkshop } from "../domain/consent.js";
import { cleanDisplayName } from "../domain/display-name.js";
import { normalizeEmail } from "../domain/email.js";
import { DomainError, EmailNotVerifiedError, ProfileNotConfirmedError } from "../domain/errors.js";
import type { WorkshopCatalog } from "../domain/workshops.js";
import { adminClaimView, myKeyView, profileView, toCsv, workshopStatus } from "./views.js";

/**
 * The HTTP API (contract: api.md), one Hono app for the Lambda (API Gateway adapter) and the local
 * stack. Handlers parse, call the domain and shape the answer; every error becomes
 * {error:{code,message}} in one place (`onError`).
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
}

export const MAX_BODY_BYTES = 4096;

/**
 * The public status (keys left) may be served from a cache for a few seconds: CloudFront answers a
 * room of polling tabs from one Lambda call per edge every 5 s. Every other answer is `no-store`.
 */
export const PUBLIC_STATUS_CACHE_CONTROL = "public, max-age=5, s-maxage=5";

/** A request the API refuses before reaching the domain (bad body, not an organizer). */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 403 | 404,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ApiError";
  }
}

const DOMAIN_STATUS: Record<string, 403 | 404 | 409 | 423 | 503> = {
  room_code_required: 403,
  room_code_invalid: 403,
  workshop_not_found: 404,
  no_claim: 404,
  sold_out: 409,
  email_already_claimed: 409,
  profile_not_confirmed: 409,
  email_not_verified: 409,
  claim_state: 409,
  claims_paused: 423,
  claims_not_open: 423,
  claims_closed: 423,
  upstream_unavailable: 503,
};

const slugParam = z.string().check(z.maxLength(48), z.regex(SLUG_PATTERN));
const userIdParam = z.string().check(z.minLength(1), z.maxLength(256));

const ProfileBody = z.strictObject({
  display_name: z.pipe(
    z.pipe(z.string(), z.transform(cleanDisplayName)),
    z.string().check(z.minLength(1, { error: "display_name must not be empty" }), z.maxLength(80, { error: "display_name must be at most 80 characters" })),
  ),
  marketing_opted_in: z.boolean({ error: "marketing_opted_in must be true or false" }),
  workshop: z.optional(slugParam),
});
const EmptyBody = z.strictObject({});
const ClaimBody = z.strictObject({
  /** The room code, for workshops with `claim_code`. */
  code: z.optional(z.string({ error: "code must be the room code as text" }).check(z.maxLength(32, { error: "code must be at most 32 characters" }))),
});

type Env = { Variables: { principal: Principal; workshop: WorkshopRecord } };

export function createApp(deps: AppDeps) {
  const { store, engine, workshops, now } = deps;
  const log = deps.log ?? ((event, fields) => console.error(JSON.stringify({ event, ...fields })));
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

  async function readBody<T extends z.ZodMiniType>(c: Context<Env>, schema: T, { optional }: { optional: boolean }): Promise<z.output<T>> {
    const text = await c.req.text();
    if (text.length > MAX_BODY_BYTES) throw new ApiError(400, "body_too_large", `The request body must be at most ${MAX_BODY_BYTES} bytes.`);
    let json: unknown = {};
    if (text.trim() !== "") {
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new ApiError(400, "invalid_json", "The request body is not valid JSON.", { cause: err });
      }
    } else if (!optional) {
      throw new ApiError(400, "bad_request", "This request needs a JSON body.");
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => (i.code === "unrecognized_keys" ? `unknown field(s): ${i.keys.join(", ")}` : `${i.path.join(".") || "body"}: ${i.message}`));
      throw new ApiError(400, "bad_request", `The request body is not valid: ${detail.join("; ")}.`);
    }
    return parsed.data;
  }

  const param = (c: Context<Env>, name: string, schema: z.ZodMiniType<string>, value: string | undefined = c.req.param(name)) => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new ApiError(404, name === "slug" || name === "workshop" ? "workshop_not_found" : "not_found", `Nothing is known under that ${name}.`);
    return parsed.data;
  };

  const authenticate = async (c: Context<Env>, next: () => Promise<void>) => {
    c.set("principal", await deps.verifyToken(bearerToken(c.req.header("Authorization"))));
    await next();
  };

  const organizerOnly = async (c: Context<Env>, next: () => Promise<void>) => {
    const record = await workshops.get(param(c, "slug", slugParam));
    if (!isOrganizer(c.get("principal"), record.config)) {
      throw new ApiError(403, "forbidden", "Only this workshop's organizers can do that.");
    }
    c.set("workshop", record);
    await next();
  };

  // ── public ──────────────────────────────────────────────────────────────────────────────────
  // Open and upcoming workshops only: the page knows the others from its build-time catalog and
  // shows them closed, so a poll never reads a past workshop (nor scans the table for them).
  app.get("/api/workshops", async (c) => {
    const at = now();
    const live = await workshops.live(at);
    const ledgers = await store.getLedgers(live.map((r) => r.config.slug));
    c.header("Cache-Control", PUBLIC_STATUS_CACHE_CONTROL);
    return c.json({ workshops: live.map((r) => workshopStatus(r.config, ledgers.get(r.config.slug)!, at)), now: new Date(at).toISOString() });
  });

  app.get("/api/workshops/:slug", async (c) => {
    const record = await workshops.get(param(c, "slug", slugParam));
    const status = workshopStatus(record.config, await store.getLedger(record.config.slug), now());
    c.header("Cache-Control", PUBLIC_STATUS_CACHE_CONTROL);
    return c.json(status);
  });

  // ── attendee ────────────────────────────────────────────────────────────────────────────────
  app.use("/api/me", authenticate);
  app.use("/api/workshops/:slug/claim", authenticate);
  app.use("/api/workshops/:slug/key", authenticate);

  const organizerOf = async (p: Principal) => (await workshops.index()).filter((e) => isOrganizer(p, e)).map((e) => e.slug);

  const recordSeen = (p: Principal) =>
    store.recordSeen(
      { userId: p.sub, email: p.email, emailNormalized: p.email ? normalizeEmail(p.email) : undefined, emailVerified: p.emailVerified, displayName: p.name === undefined ? undefined : cleanDisplayName(p.name) || undefined },
      now(),
    );

  // `?workshop=<slug>`: the page also wants the attendee's consent answer for that workshop.
  app.get("/api/me", async (c) => {
    const p = c.get("principal");
    const asked = c.req.query("workshop");
    const slug = asked === undefined ? undefined : (await workshops.get(param(c, "workshop", slugParam, asked))).config.slug;
    const [attendee, orgs, answer] = await Promise.all([recordSeen(p), organizerOf(p), slug ? store.getConsent(slug, p.sub) : undefined]);
    return c.json(profileView(p, attendee, orgs, slug ? { workshop: slug, answer: consentForWorkshop(slug, answer, attendee) } : undefined));
  });

  app.put("/api/me", async (c) => {
    const p = c.get("principal");
    const body = await readBody(c, ProfileBody, { optional: false });
    if (body.marketing_opted_in && !body.workshop) {
      throw new ApiError(400, "bad_request", "Marketing consent is given to one workshop's organizers: send the workshop it is for.");
    }
    if (body.workshop) await workshops.get(body.workshop);
    await recordSeen(p);
    const [attendee, answer] = await Promise.all([
      store.confirmProfile(p.sub, { displayName: body.display_name }, now()),
      body.workshop ? store.recordConsent(body.workshop, p.sub, body.marketing_opted_in, now()) : undefined,
    ]);
    const consent = body.workshop ? { workshop: body.workshop, answer: consentForWorkshop(body.workshop, answer, attendee) } : undefined;
    return c.json(profileView(p, attendee, await organizerOf(p), consent));
  });

  app.post("/api/workshops/:slug/claim", async (c) => {
    const p = c.get("principal");
    const slug = param(c, "slug", slugParam);
    const body = await readBody(c, ClaimBody, { optional: true });
    await workshops.get(slug);
    if (!p.email) throw new EmailNotVerifiedError();
    const attendee = await store.getAttendee(p.sub);
    if (!attendee?.confirmed_at) throw new ProfileNotConfirmedError();
    const outcome = await engine.claim(slug, { userId: p.sub, email: p.email, displayName: attendee.display_name, roomCode: body.code });
    return c.json({ key: myKeyView(outcome.claim, outcome.workshop, deps.attendeeBaseUrl) }, outcome.created ? 201 : 200);
  });

  app.get("/api/workshops/:slug/key", async (c) => {
    const p = c.get("principal");
    const slug = param(c, "slug", slugParam);
    // `?usage=live` reads the key's usage from OpenRouter first (at most every 30 s per claim).
    const live = c.req.query("usage") === "live";
    // The owner is always the token's subject: there is no way to name another user here.
    const { claim, workshop } = live ? await engine.refreshUsage(slug, p.sub) : await engine.getMyKey(slug, p.sub);
    return c.json(myKeyView(claim, workshop, deps.attendeeBaseUrl));
  });

  // ── organizer ───────────────────────────────────────────────────────────────────────────────
  app.use("/api/admin/*", authenticate);
  app.use("/api/admin/workshops/:slug/*", organizerOnly);

  app.get("/api/admin/workshops", async (c) => {
    const p = c.get("principal");
    const slugs = await organizerOf(p);
    if (slugs.length === 0 && !p.isAdmin) throw new ApiError(403, "forbidden", "You are not an organizer of any workshop.");
    const [mine, ledgers, credits] = await Promise.all([Promise.all(slugs.map((s) => workshops.get(s))), store.getLedgers(slugs), store.getCreditCheck()]);
    const at = now();
    const rows = await Promise.all(
      mine.map(async (r) => {
        // The last sync's total: the list never reads every claim of every workshop.
        const spend = await store.latestSpendSample(r.config.slug);
        const ledger = ledgers.get(r.config.slug)!;
        return {
          ...workshopStatus(r.config, ledger, at),
          committed_usd: ledger.committed_usd,
          cap_usd: r.config.openrouter.guardrail.cap_usd,
          usage_usd: spend?.usage_usd ?? 0,
        };
      }),
    );
    // The account's credit as the jobs last checked it: one account pays for every workshop's keys.
    return c.json({ workshops: rows, credits: credits ?? null });
  });

  app.get("/api/admin/workshops/:slug/claims", async (c) => {
    const record = c.get("workshop");
    const slug = record.config.slug;
    const [claims, ledger, spend] = await Promise.all([store.listClaims(slug, { consistent: false }), store.getLedger(slug), store.listSpendSamples(slug)]);
    const attendees = await store.getAttendees(claims.map((x) => x.user_id));
    claims.sort((a, b) => a.claimed_at.localeCompare(b.claimed_at));
    const status = workshopStatus(record.config, ledger, now());
    const spentBy = (list: typeof claims) => roundUsd(list.reduce((s, x) => s + (x.usage_usd ?? 0), 0));
    const revoked = claims.filter((x) => x.status === "REVOKED");
    return c.json({
      claims: claims.map((x) => adminClaimView(x, attendees.get(x.user_id))),
      totals: {
        claimed: ledger.claimed,
        capacity: status.capacity,
        keys_left: status.keys_left,
        committed_usd: ledger.committed_usd,
        cap_usd: record.config.openrouter.guardrail.cap_usd,
        usage_usd: spentBy(claims),
        // Revoked keys gave their slot and unspent budget back; what they spent stays committed.
        revoked: { keys: revoked.length, usage_usd: spentBy(revoked) },
      },
      spend: spend.map((s) => ({ at: s.at, usage_usd: s.usage_usd })),
    });
  });

  // The room code for the projector and the dashboard; the only route that ever answers with it.
  app.get("/api/admin/workshops/:slug/room-code", async (c) => {
    const slug = c.get("workshop").config.slug;
    const room = await engine.roomCode(slug);
    if (!room) return c.json({ enabled: false });
    const { code, validFrom, rotatesAt } = room.current;
    return c.json({
      enabled: true,
      code,
      rotate_minutes: room.policy.rotate_minutes,
      grace_minutes: room.policy.grace_minutes,
      valid_from: new Date(validFrom).toISOString(),
      rotates_at: new Date(rotatesAt).toISOString(),
      now: new Date(now()).toISOString(),
      claim_path: `/w/${slug}?code=${code}`,
    });
  });

  app.post("/api/admin/workshops/:slug/claims/:userId/retry-binding", async (c) => {
    await readBody(c, EmptyBody, { optional: true });
    const claim = await engine.retryBinding(c.get("workshop").config.slug, param(c, "userId", userIdParam));
    return c.json({ claim: adminClaimView(claim) });
  });

  app.post("/api/admin/workshops/:slug/claims/:userId/revoke", async (c) => {
    await readBody(c, EmptyBody, { optional: true });
    const claim = await engine.revoke(c.get("workshop").config.slug, param(c, "userId", userIdParam));
    log("key_revoked", { slug: claim.slug, user_id: claim.user_id, by: c.get("principal").sub });
    return c.json({ claim: adminClaimView(claim) });
  });

  for (const action of ["pause", "resume"] as const) {
    app.post(`/api/admin/workshops/:slug/${action}`, async (c) => {
      await readBody(c, EmptyBody, { optional: true });
      const record = c.get("workshop");
      const ledger = action === "pause" ? await engine.pause(record.config.slug) : await engine.resume(record.config.slug);
      log(`claims_${action}d`, { slug: record.config.slug, by: c.get("principal").sub });
      return c.json(workshopStatus(record.config, ledger, now()));
    });
  }

  // Only the attendees who said yes on this workshop's confirm step (or, before consent was kept per
  // workshop, gave it here first): consent given to another workshop's organizers is not theirs.
  app.get("/api/admin/workshops/:slug/marketing.csv", async (c) => {
    const slug = c.get("workshop").config.slug;
    const [answers, claims] = await Promise.all([store.listConsents(slug), store.listClaims(slug, { consistent: false })]);
    const answerOf = new Map(answers.map((a) => [a.user_id, a]));
    const claimOf = new Map(claims.map((x) => [x.user_id, x]));
    const userIds = [...new Set([...answerOf.keys(), ...claimOf.keys()])];
    const attendees = await store.getAttendees(userIds);
    const rows = userIds
      .map((userId) => ({ userId, consent: consentForWorkshop(slug, answerOf.get(userId), attendees.get(userId)) }))
      .filter(({ consent }) => consent.marketing_opted_in)
      .sort((a, b) => (a.consent.opted_in_at ?? "").localeCompare(b.consent.opted_in_at ?? ""))
      .map(({ userId, consent }) => {
        const attendee = attendees.get(userId);
        const claim = claimOf.get(userId);
        return [attendee?.email ?? claim?.email ?? "", attendee?.display_name ?? claim?.display_name ?? "", consent.opted_in_at ?? ""];
      })
      // Without an address (an unverified sign-in) there is nobody to write to.
      .filter(([email]) => email !== "");
    c.header("Content-Type", "text/csv; charset=utf-8");
    c.header("Content-Disposition", `attachment; filename="${slug}-marketing.csv"`);
    return c.body(toCsv(["email", "display_name", "opted_in_at"], rows));
  });

  // Who came: every claim, whatever became of it, for the attendance list. Never a key.
  app.get("/api/admin/workshops/:slug/attendance.csv", async (c) => {
    const slug = c.get("workshop").config.slug;
    const claims = (await store.listClaims(slug, { consistent: false })).sort((a, b) => a.claimed_at.localeCompare(b.claimed_at));
    const attendees = await store.getAttendees(claims.map((x) => x.user_id));
    const rows = claims.map((x) => {
      const attendee = attendees.get(x.user_id);
      return [attendee?.email ?? x.email, attendee?.display_name ?? x.display_name ?? "", x.status, x.claimed_at, String(x.usage_usd ?? 0), String(x.limit_usd)];
    });
    c.header("Content-Type", "text/csv; charset=utf-8");
    c.header("Content-Disposition", `attachment; filename="${slug}-attendance.csv"`);
    return c.body(toCsv(["email", "display_name", "status", "claimed_at", "spent_usd", "budget_usd"], rows));
  });

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
      if (status >= 500) log("request_failed", { path: c.req.path, code: err.code, error: err.message, cause: err.cause instanceof Error ? `${err.cause.name}: ${err.cause.message}` : undefined });
      return c.json({ error: { code: err.code, message: err.message, ...err.details } }, status);
    }
    log("request_failed", { path: c.req.path, method: c.req.method, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    return c.json({ error: { code: "internal", message: "Something went wrong on our side. Please try again." } }, 500);
  });

  return app;
}
