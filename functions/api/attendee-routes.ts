import type { Hono } from "hono";
import * as z from "zod/mini";
import type { Principal } from "../auth/index.js";
import { attemptWindow } from "../domain/attempts.js";
import { consentForWorkshop } from "../domain/consent.js";
import { cleanDisplayName } from "../domain/display-name.js";
import { normalizeEmail } from "../domain/email.js";
import { EmailNotVerifiedError, NoClaimError, ProfileNotConfirmedError } from "../domain/errors.js";
import { authenticate, organizerOf } from "./access.js";
import type { AppDeps } from "./app.js";
import { ApiError, param, readBody, slugParam, type Env } from "./request.js";
import { myKeyView, profileView } from "./views.js";

const ProfileBody = z.strictObject({
  display_name: z.pipe(
    z.pipe(z.string(), z.transform(cleanDisplayName)),
    z.string().check(z.minLength(1, { error: "display_name must not be empty" }), z.maxLength(80, { error: "display_name must be at most 80 characters" })),
  ),
  marketing_opted_in: z.boolean({ error: "marketing_opted_in must be true or false" }),
  workshop: z.optional(slugParam),
});
const ClaimBody = z.strictObject({
  /** The room code, for workshops with `claim_code`. */
  code: z.optional(z.string({ error: "code must be the room code as text" }).check(z.maxLength(32, { error: "code must be at most 32 characters" }))),
});

type AttendeeDeps = Pick<AppDeps, "store" | "engine" | "workshops" | "verifyToken" | "now" | "attendeeBaseUrl">;

/** /api/me (profile, consent), and the caller's own claim and key: always the token's subject. */
export function attendeeRoutes(app: Hono<Env>, deps: AttendeeDeps) {
  const { store, engine, workshops, now } = deps;
  const signedIn = authenticate(deps.verifyToken);
  app.use("/api/me", signedIn);
  app.use("/api/workshops/:slug/claim", signedIn);
  app.use("/api/workshops/:slug/key", signedIn);

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
    const [attendee, orgs, answer] = await Promise.all([recordSeen(p), organizerOf(workshops, p), slug ? store.getConsent(slug, p.sub) : undefined]);
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
    return c.json(profileView(p, attendee, await organizerOf(workshops, p), consent));
  });

  app.post("/api/workshops/:slug/claim", async (c) => {
    const p = c.get("principal");
    const slug = param(c, "slug", slugParam);
    const body = await readBody(c, ClaimBody, { optional: true });
    const { config } = await workshops.get(slug);
    if (!p.email) throw new EmailNotVerifiedError();
    const read = await store.getClaimReads(p.sub, slug, attemptWindow(config, now()).id);
    if (!read.attendee?.confirmed_at) throw new ProfileNotConfirmedError();
    const outcome = await engine.claim(slug, { userId: p.sub, email: p.email, displayName: read.attendee.display_name, roomCode: body.code }, read);
    return c.json({ key: myKeyView(outcome.claim, outcome.workshop, deps.attendeeBaseUrl) }, outcome.created ? 201 : 200);
  });

  app.get("/api/workshops/:slug/key", async (c) => {
    const p = c.get("principal");
    const slug = param(c, "slug", slugParam);
    // `?usage=live` reads the key's usage from OpenRouter first (at most every 30 s per claim).
    const live = c.req.query("usage") === "live";
    // The owner is always the token's subject: there is no way to name another user here.
    try {
      const { claim, workshop } = live ? await engine.refreshUsage(slug, p.sub) : await engine.getMyKey(slug, p.sub);
      return c.json(myKeyView(claim, workshop, deps.attendeeBaseUrl));
    } catch (err) {
      // "No key yet" is an answer, not a failure: every page asks before the claim, and a 404 would
      // be an error in every visitor's console. (An unknown workshop is still 404.)
      if (err instanceof NoClaimError) return c.body(null, 204);
      throw err;
    }
  });
}
