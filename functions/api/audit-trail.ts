import type { Context } from "hono";
import { keyExpiresAt } from "../../workshops/derive.js";
import type { AuditAction, AuditEntry, Store } from "../data/store.js";
import type { Env } from "./request.js";

/**
 * Records every organizer action that changes something or takes data out (api.md "Audit trail"):
 * a middleware on /api/admin/workshops/:slug/*, so a route cannot forget it. It runs after the route
 * has answered successfully and reads what moved from the request and the answer (never a key);
 * reads (the claims list, the room code, the trail itself) are not actions.
 */

type Rule = { method: string; pattern: RegExp; action: AuditAction; what: (m: RegExpMatchArray, body: Record<string, any>, answer: Record<string, any>) => Partial<AuditEntry> };

const claimTarget = (m: RegExpMatchArray, answer: Record<string, any>) => ({ user_id: decodeURIComponent(m[1]!), ...(answer.claim?.email ? { email: String(answer.claim.email) } : {}) });

const RULES: Rule[] = [
  { method: "POST", pattern: /\/claims\/([^/]+)\/revoke$/, action: "revoke", what: (m, _b, a) => ({ ...claimTarget(m, a), ...(typeof a.claim?.returned_usd === "number" ? { details: { returned_usd: a.claim.returned_usd } } : {}) }) },
  { method: "POST", pattern: /\/claims\/([^/]+)\/top-up$/, action: "top_up", what: (m, b, a) => ({ ...claimTarget(m, a), details: { amount_usd: Number(b.amount_usd), limit_usd: Number(a.claim?.limit_usd) } }) },
  { method: "POST", pattern: /\/claims\/([^/]+)\/allow-again$/, action: "allow_again", what: (m, _b, a) => claimTarget(m, a) },
  { method: "POST", pattern: /\/claims\/([^/]+)\/retry-binding$/, action: "retry_binding", what: (m, _b, a) => claimTarget(m, a) },
  { method: "POST", pattern: /\/claim-on-behalf$/, action: "claim_on_behalf", what: (_m, b, a) => ({ user_id: String(a.claim?.user_id), email: String(b.email) }) },
  { method: "POST", pattern: /\/invites$/, action: "invite_list", what: (_m, b) => ({ details: { addresses: Array.isArray(b.emails) ? b.emails.length : 0, replace: b.replace === true } }) },
  { method: "POST", pattern: /\/pause$/, action: "pause", what: () => ({}) },
  { method: "POST", pattern: /\/resume$/, action: "resume", what: () => ({}) },
  { method: "GET", pattern: /\/([a-z-]+\.csv)$/, action: "export", what: (m) => ({ details: { file: m[1]! } }) },
];

export function auditTrail(store: Store, now: () => number, log: (event: string, fields: Record<string, unknown>) => void) {
  return async (c: Context<Env>, next: () => Promise<void>) => {
    await next();
    if (!c.res.ok) return;
    const rule = RULES.find((r) => r.method === c.req.method && r.pattern.test(c.req.path));
    if (!rule) return;
    const record = c.get("workshop");
    const p = c.get("principal");
    const json = async (read: () => Promise<string>) => {
      try {
        return JSON.parse(await read()) as Record<string, any>;
      } catch {
        return {};
      }
    };
    const body = c.req.method === "POST" ? await json(() => c.req.text()) : {};
    const answer = (c.res.headers.get("Content-Type") ?? "").includes("json") ? await json(() => c.res.clone().text()) : {};
    const entry: AuditEntry = { at: new Date(now()).toISOString(), action: rule.action, by: p.email ?? p.sub, ...rule.what(c.req.path.match(rule.pattern)!, body, answer) };
    try {
      await store.recordAudit(record.config.slug, entry, keyExpiresAt(record.config));
    } catch (err) {
      // The action has happened; its answer stands. The log keeps what the trail missed.
      log("audit_write_failed", { slug: record.config.slug, action: entry.action, by: entry.by, error: err instanceof Error ? err.message : String(err) });
    }
  };
}
