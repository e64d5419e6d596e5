import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { randomUUID } from "node:crypto";
import { stripKeys, type Table } from "./table.js";
import { AUDIT_PREFIX, auditSk, ttlAfterKeyExpiry } from "./tables.js";

/** The organizers' audit trail, one item per action under the workshop's partition (tables.ts). */

export type AuditAction =
  | "revoke"
  | "top_up"
  | "allow_again"
  | "claim_on_behalf"
  | "retry_binding"
  | "pause"
  | "resume"
  | "export"
  | "invite_list";

export interface AuditEntry {
  at: string;
  action: AuditAction;
  /** Who: the organizer's verified email, else their token's subject. */
  by: string;
  /** The attendee acted on, when the action names one. */
  user_id?: string;
  email?: string;
  /** What moved, in plain figures (amounts, a file name); never a key. */
  details?: Record<string, string | number | boolean>;
}

export function auditStore(table: Table) {
  const { doc, W, retention, queryWorkshopItems } = table;
  return {
    /** `keyExpiresAt`: the workshop's key expiry; the entry lives as long as its claims (docs/privacy.md). */
    async recordAudit(slug: string, entry: AuditEntry, keyExpiresAt: string): Promise<void> {
      await doc.send(
        new PutCommand({
          TableName: W,
          Item: { pk: slug, sk: auditSk(entry.at, randomUUID().slice(0, 8)), ...entry, ttl: ttlAfterKeyExpiry(keyExpiresAt, retention) },
        }),
      );
    },

    /** The newest `limit` entries, newest first (all of them without a limit). */
    async listAudit(slug: string, opts: { limit?: number } = {}): Promise<AuditEntry[]> {
      const items = await queryWorkshopItems(slug, { prefix: AUDIT_PREFIX }, { consistent: false, newestFirst: true, ...(opts.limit ? { limit: opts.limit } : {}) });
      return items.map((i) => {
        const { slug: _slug, ...entry } = stripKeys<AuditEntry & { slug: string }>(i)!;
        void _slug;
        return entry;
      });
    },
  };
}
