import type { Hono } from "hono";
import type { AppDeps } from "./app.js";
import { param, slugParam, type Env } from "./request.js";
import { roomCodeView, workshopStatus } from "./views.js";

/**
 * The public status (keys left) may be served from a cache for a few seconds: CloudFront answers a
 * room of polling tabs from one Lambda call per edge every 5 s. Every other answer is `no-store`.
 */
export const PUBLIC_STATUS_CACHE_CONTROL = "public, max-age=5, s-maxage=5";

/**
 * GET /api/workshops and /api/workshops/:slug: no token, no personal data. And the projector's
 * read of the room code with a projector link (`?link=`, made by an organizer): no sign-in, the
 * signed link is what opens it, and it opens nothing else.
 */
export function publicRoutes(app: Hono<Env>, { store, engine, workshops, now }: Pick<AppDeps, "store" | "engine" | "workshops" | "now">) {
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

  app.get("/api/workshops/:slug/projector", async (c) => {
    const slug = param(c, "slug", slugParam);
    return c.json(roomCodeView(slug, await engine.roomCodeForLink(slug, c.req.query("link") ?? ""), now()));
  });
}
