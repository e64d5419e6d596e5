import type { Hono } from "hono";
import * as z from "zod/mini";
import type { AppDeps } from "./app.js";
import { param, readBody, userIdParam, type Env } from "./request.js";
import { adminClaimView } from "./views.js";

/** A top-up: a positive amount in USD, at most $1,000 at once (a typo guard, not a policy). */
const TopUpBody = z.strictObject({ amount_usd: z.number().check(z.positive(), z.lte(1000)) });

type ActionDeps = Pick<AppDeps, "engine"> & { log: NonNullable<AppDeps["log"]> };

/**
 * The organizer's actions that move money or hand out keys beyond the claim path (issue 22).
 * Registered by organizerRoutes, behind its authentication and organizer check.
 */
export function organizerActionRoutes(app: Hono<Env>, { engine, log }: ActionDeps) {
  app.post("/api/admin/workshops/:slug/claims/:userId/top-up", async (c) => {
    const { amount_usd } = await readBody(c, TopUpBody, { optional: false });
    const claim = await engine.topUp(c.get("workshop").config.slug, param(c, "userId", userIdParam), amount_usd);
    log("key_topped_up", { slug: claim.slug, user_id: claim.user_id, amount_usd, by: c.get("principal").sub });
    return c.json({ claim: adminClaimView(claim) });
  });
}
