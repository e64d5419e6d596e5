import type { Hono } from "hono";
import * as z from "zod/mini";
import { keyExpiresAt } from "../../workshops/derive.js";
import { normalizeEmail } from "../domain/email.js";
import type { AppDeps } from "./app.js";
import { param, readBody, userIdParam, type Env } from "./request.js";
import { adminClaimView, myKeyView } from "./views.js";

/** A top-up: a positive amount in USD, at most $1,000 at once (a typo guard, not a policy). */
const TopUpBody = z.strictObject({ amount_usd: z.number().check(z.positive(), z.lte(1000)) });

/** Claim on behalf: the email of the person in the room, and optionally the name the dashboard shows. */
const OnBehalfBody = z.strictObject({
  email: z.string().check(z.maxLength(254), z.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, "must be an email address")),
  display_name: z.optional(z.string().check(z.maxLength(80))),
});

const EmptyBody = z.strictObject({});

/** A part of an uploaded invite list: the browser sends the CSV's addresses 100 at a time (bodies are at most 4 KB). */
const InvitesBody = z.strictObject({
  emails: z.array(z.string().check(z.maxLength(254), z.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, "must be an email address"))).check(z.minLength(1), z.maxLength(100)),
  /** The first part of a new list: the addresses not in it are removed. */
  replace: z.boolean(),
});

type ActionDeps = Pick<AppDeps, "engine" | "store" | "attendeeBaseUrl" | "now"> & { log: NonNullable<AppDeps["log"]> };

/**
 * The organizer's actions that move money or hand out keys beyond the claim path (issue 22).
 * Registered by organizerRoutes, behind its authentication and organizer check.
 */
export function organizerActionRoutes(app: Hono<Env>, { engine, store, log, attendeeBaseUrl, now }: ActionDeps) {
  // The invite list (attendees.invite_list): uploaded in parts, read back with who has not claimed yet.
  app.post("/api/admin/workshops/:slug/invites", async (c) => {
    const body = await readBody(c, InvitesBody, { optional: false });
    const w = c.get("workshop").config;
    const at = new Date(now()).toISOString();
    const invites = body.emails.map((email) => ({ email: email.trim(), email_normalized: normalizeEmail(email), invited_at: at }));
    await store.addInvites(w.slug, invites, { replace: body.replace, keyExpiresAt: keyExpiresAt(w) });
    return c.json({ added: invites.length });
  });

  app.get("/api/admin/workshops/:slug/invites", async (c) => {
    const w = c.get("workshop").config;
    const [invites, claims] = await Promise.all([store.listInvites(w.slug), store.listClaims(w.slug, { consistent: false })]);
    const claimed = new Set(claims.filter((x) => x.status !== "RELEASED").map((x) => x.email_normalized));
    const waiting = invites.filter((i) => !claimed.has(i.email_normalized)).map((i) => i.email).sort();
    return c.json({ enabled: w.attendees?.invite_list ?? false, invited: invites.length, not_claimed: waiting });
  });

  // The dashboard's view of the audit trail: the newest 200 actions (the CSV has them all).
  app.get("/api/admin/workshops/:slug/audit", async (c) => c.json({ entries: await store.listAudit(c.get("workshop").config.slug, { limit: 200 }) }));

  app.post("/api/admin/workshops/:slug/claims/:userId/top-up", async (c) => {
    const { amount_usd } = await readBody(c, TopUpBody, { optional: false });
    const claim = await engine.topUp(c.get("workshop").config.slug, param(c, "userId", userIdParam), amount_usd);
    log("key_topped_up", { slug: claim.slug, user_id: claim.user_id, amount_usd, by: c.get("principal").sub });
    return c.json({ claim: adminClaimView(claim) });
  });

  app.post("/api/admin/workshops/:slug/claims/:userId/allow-again", async (c) => {
    await readBody(c, EmptyBody, { optional: true });
    const claim = await engine.allowAgain(c.get("workshop").config.slug, param(c, "userId", userIdParam));
    log("claim_reallowed", { slug: claim.slug, user_id: claim.user_id, by: c.get("principal").sub });
    return c.json({ claim: adminClaimView(claim) });
  });

  // The one organizer answer that carries a key: the one just made for someone in the room, once.
  app.post("/api/admin/workshops/:slug/claim-on-behalf", async (c) => {
    const body = await readBody(c, OnBehalfBody, { optional: false });
    const p = c.get("principal");
    const out = await engine.claimOnBehalf(c.get("workshop").config.slug, { email: body.email, displayName: body.display_name, by: p.email ?? p.sub });
    log("claimed_on_behalf", { slug: out.claim.slug, user_id: out.claim.user_id, by: p.sub });
    return c.json({ key: myKeyView({ ...out.claim, key: out.key }, out.workshop, attendeeBaseUrl), claim: adminClaimView(out.claim) }, 201);
  });
}
