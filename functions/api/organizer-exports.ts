import type { Hono } from "hono";
import { consentForWorkshop } from "../domain/consent.js";
import type { AppDeps } from "./app.js";
import type { Env } from "./request.js";
import { toCsv } from "./views.js";

/**
 * The organizer's CSV downloads. Registered by organizerRoutes, behind its authentication and
 * organizer check: nothing here checks who is asking.
 */
export function organizerExportRoutes(app: Hono<Env>, { store }: Pick<AppDeps, "store">) {
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

  // The audit trail (audit-trail.ts records every action; downloading it is one too).
  app.get("/api/admin/workshops/:slug/audit.csv", async (c) => {
    const slug = c.get("workshop").config.slug;
    const entries = await store.listAudit(slug);
    const rows = entries.map((e) => [e.at, e.by, e.action, e.email ?? "", e.user_id ?? "", e.details ? Object.entries(e.details).map(([k, v]) => `${k}=${v}`).join("; ") : ""]);
    c.header("Content-Type", "text/csv; charset=utf-8");
    c.header("Content-Disposition", `attachment; filename="${slug}-audit.csv"`);
    return c.body(toCsv(["at", "by", "action", "email", "user_id", "details"], rows));
  });
}
