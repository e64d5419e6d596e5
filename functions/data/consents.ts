import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { Expression, type Table } from "./table.js";
import { attendeeTtl, consentSk } from "./tables.js";

/** Marketing consent, one item per (workshop, attendee): the answer to that workshop's confirm-step question. */

/** An attendee's answer to one workshop's marketing question (its confirm step). */
export interface WorkshopConsent {
  user_id: string;
  marketing_opted_in: boolean;
  /** When the attendee last answered. */
  decided_at: string;
  /** When they first said yes (kept while they keep saying yes). */
  opted_in_at?: string;
}

const consentOf = (item: Record<string, unknown>): WorkshopConsent => ({
  user_id: String(item.user_id),
  marketing_opted_in: item.marketing_opted_in === true,
  decided_at: String(item.decided_at),
  ...(typeof item.opted_in_at === "string" ? { opted_in_at: item.opted_in_at } : {}),
});

export function consentStore(table: Table) {
  const { doc, W, retention, queryWorkshopItems } = table;


  return {
    /** Records the attendee's answer for one workshop. A yes keeps the time it was first given; a no removes it. */
    async recordConsent(slug: string, userId: string, optedIn: boolean, nowMs: number): Promise<WorkshopConsent> {
      const e = new Expression();
      const at = e.value(new Date(nowMs).toISOString());
      const sets = [
        `${e.name("user_id")} = ${e.value(userId)}`,
        `${e.name("marketing_opted_in")} = ${e.value(optedIn)}`,
        `${e.name("decided_at")} = ${at}`,
        `${e.name("ttl")} = ${e.value(attendeeTtl(nowMs, retention))}`,
      ];
      if (optedIn) sets.push(`${e.name("opted_in_at")} = if_not_exists(${e.name("opted_in_at")}, ${at})`);
      const res = await doc.send(
        new UpdateCommand({
          TableName: W,
          Key: { pk: slug, sk: consentSk(userId) },
          UpdateExpression: `SET ${sets.join(", ")}${optedIn ? "" : ` REMOVE ${e.name("opted_in_at")}`}`,
          ReturnValues: "ALL_NEW",
          ...e.params(),
        }),
      );
      return consentOf(res.Attributes!);
    },

    async getConsent(slug: string, userId: string): Promise<WorkshopConsent | undefined> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: slug, sk: consentSk(userId) }, ConsistentRead: true }));
      return got.Item ? consentOf(got.Item) : undefined;
    },

    /** Every answer given for a workshop, following pages. */
    async listConsents(slug: string): Promise<WorkshopConsent[]> {
      return (await queryWorkshopItems(slug, { prefix: "CONSENT#" }, { consistent: true })).map(consentOf);
    },
  };
}
