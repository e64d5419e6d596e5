import type { Hono } from "hono";
import * as z from "zod/mini";
import { roundUsd } from "../../workshops/derive.js";
import { authenticate, organizerOf, organizerOnly } from "./access.js";
import { auditTrail } from "./audit-trail.js";
import type { AppDeps } from "./app.js";
import { ApiError, param, readBody, userIdParam, type Env } from "./request.js";
import { organizerActionRoutes } from "./organizer-actions.js";
import { organizerExportRoutes } from "./organizer-exports.js";
import { adminClaimView, roomCodeView, workshopStatus } from "./views.js";

const EmptyBody = z.strictObject({});

type OrganizerDeps = Pick<AppDeps, "store" | "engine" | "workshops" | "verifyToken" | "now" | "attendeeBaseUrl"> & { log: NonNullable<AppDeps["log"]> };

/** /api/admin/*: a workshop's organizers (or global admins) see its claims and act on them. */
export function organizerRoutes(app: Hono<Env>, deps: OrganizerDeps) {
  const { store, engine, workshops, now, log } = deps;
  app.use("/api/admin/*", authenticate(deps.verifyToken));
  app.use("/api/admin/workshops/:slug/*", organizerOnly(workshops));
  app.use("/api/admin/workshops/:slug/*", auditTrail(store, now, log));

  app.get("/api/admin/workshops", async (c) => {
    const p = c.get("principal");
    const slugs = await organizerOf(workshops, p);
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
          usage_synced_at: spend?.at ?? null,
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
    // Keys revoked before their owner was allowed a new one count as revoked keys too.
    const earlier = claims.flatMap((x) => x.earlier_keys ?? []);
    return c.json({
      claims: claims.map((x) => adminClaimView(x, attendees.get(x.user_id))),
      totals: {
        claimed: ledger.claimed,
        capacity: status.capacity,
        keys_left: status.keys_left,
        committed_usd: ledger.committed_usd,
        cap_usd: record.config.openrouter.guardrail.cap_usd,
        budget_usd: record.config.openrouter.budget_usd,
        usage_usd: spentBy(claims),
        // Revoked keys gave their slot and unspent budget back; what they spent stays committed.
        revoked: { keys: revoked.length + earlier.length, usage_usd: roundUsd(spentBy(revoked) + earlier.reduce((s, k) => s + k.usage_usd, 0)) },
      },
      spend: spend.map((s) => ({ at: s.at, usage_usd: s.usage_usd })),
    });
  });

  // The room code for the projector and the dashboard (and, with a projector link, the public
  // projector route): no other route answers with it.
  app.get("/api/admin/workshops/:slug/room-code", async (c) => {
    const slug = c.get("workshop").config.slug;
    return c.json(roomCodeView(slug, await engine.roomCode(slug), now()));
  });

  // A read-only, expiring projector link: the room's laptop shows the code without a sign-in.
  app.post("/api/admin/workshops/:slug/projector-link", async (c) => {
    await readBody(c, EmptyBody, { optional: true });
    const slug = c.get("workshop").config.slug;
    const { token, expiresAt } = await engine.projectorLink(slug);
    log("projector_link_made", { slug, by: c.get("principal").sub, expires_at: new Date(expiresAt).toISOString() });
    return c.json({ path: `/w/${slug}/projector?link=${token}`, expires_at: new Date(expiresAt).toISOString() }, 201);
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

  // Registered last: they sit behind the organizer check above.
  organizerActionRoutes(app, deps);
  organizerExportRoutes(app, deps);
}
