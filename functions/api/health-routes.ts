import type { Hono } from "hono";
import type { AppDeps } from "./app.js";
import type { Env } from "./request.js";

/**
 * `GET /api/admin/workshops/<slug>/health`: the organizer dashboard's health panel. Behind the
 * organizer routes' checks (registered after them, under /api/admin/workshops/:slug/*).
 *
 * `live` is the in-process counters (observability/health.ts) where the app has them: the local
 * stack, one process. The API Lambda has none (each container would hold its own slice), so in the
 * cloud `live` is null and the panel shows the stored credit check and points at the operator's
 * CloudWatch dashboard, where the same metrics are summed across containers.
 */
export function healthRoutes(app: Hono<Env>, deps: Pick<AppDeps, "store" | "health">) {
  app.get("/api/admin/workshops/:slug/health", async (c) => {
    const slug = c.get("workshop").config.slug;
    const credits = await deps.store.getCreditCheck();
    return c.json({ live: deps.health?.snapshot(slug) ?? null, credits: credits ?? null });
  });
}
