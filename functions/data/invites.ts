import { BatchWriteCommand, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { Table } from "./table.js";
import { INVITE_PREFIX, inviteSk, ttlAfterKeyExpiry } from "./tables.js";

/**
 * A workshop's invite list (`attendees.invite_list`), one item per invited address under the
 * workshop's partition, so a claim checks one small item. Uploaded on the dashboard, never in git;
 * kept as long as the claims.
 */

export interface Invite {
  /** As the organizer's CSV had it. */
  email: string;
  email_normalized: string;
  invited_at: string;
}

export function inviteStore(table: Table) {
  const { doc, W, retention, queryWorkshopItems } = table;

  async function batch(requests: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < requests.length; i += 25) {
      let pending: Record<string, unknown>[] | undefined = requests.slice(i, i + 25);
      while (pending && pending.length) {
        const res = await doc.send(new BatchWriteCommand({ RequestItems: { [W]: pending as never } }));
        pending = res.UnprocessedItems?.[W] as Record<string, unknown>[] | undefined;
      }
    }
  }

  return {
    async isInvited(slug: string, normalized: string): Promise<boolean> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: slug, sk: inviteSk(normalized) }, ConsistentRead: true }));
      return got.Item !== undefined;
    },

    async listInvites(slug: string): Promise<Invite[]> {
      const items = await queryWorkshopItems(slug, { prefix: INVITE_PREFIX }, { consistent: true });
      return items.map((i) => ({ email: String(i.email), email_normalized: String(i.email_normalized), invited_at: String(i.invited_at) }));
    },

    /** Adds addresses (an address already listed is written again); `replace` first removes every listed one. */
    async addInvites(slug: string, invites: readonly Invite[], opts: { replace: boolean; keyExpiresAt: string }): Promise<void> {
      if (opts.replace) {
        const old = await queryWorkshopItems(slug, { prefix: INVITE_PREFIX }, { consistent: true });
        const keep = new Set(invites.map((i) => inviteSk(i.email_normalized)));
        await batch(old.filter((o) => !keep.has(String(o.sk))).map((o) => ({ DeleteRequest: { Key: { pk: slug, sk: o.sk } } })));
      }
      const ttl = ttlAfterKeyExpiry(opts.keyExpiresAt, retention);
      const unique = new Map(invites.map((i) => [i.email_normalized, i]));
      await batch([...unique.values()].map((i) => ({ PutRequest: { Item: { pk: slug, sk: inviteSk(i.email_normalized), ...i, ttl } } })));
    },
  };
}
