import { BatchGetCommand, type BatchGetCommandOutput, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { chunks, forEachLimited } from "../concurrency.js";
import { Expression, type Table } from "./table.js";
import { attendeeTtl } from "./tables.js";

/** Attendee profiles, one item per signed-in person (the attendees table). */

export interface AttendeeItem {
  user_id: string;
  email?: string;
  email_normalized?: string;
  email_verified: boolean;
  display_name?: string;
  auth_provider?: string;
  /**
   * Legacy, read only: items written before consent was kept per workshop hold one global consent
   * and the workshop it was first given for. It counts for that workshop alone (domain/consent.ts).
   */
  marketing_opted_in?: boolean;
  marketing_opted_in_at?: string;
  marketing_opted_in_workshop?: string;
  first_seen_at: string;
  last_seen_at: string;
  confirmed_at?: string;
}

const BATCH_GETS_IN_FLIGHT = 8;

export function attendeeStore(table: Table) {
  const { doc, A, retention } = table;

  return {
    async getAttendee(userId: string): Promise<AttendeeItem | undefined> {
      const got = await doc.send(new GetCommand({ TableName: A, Key: { user_id: userId }, ConsistentRead: true }));
      return got.Item as AttendeeItem | undefined;
    },

    /** Attendees by id, in BatchGets of 100 (DynamoDB's limit), several in flight at once. */
    async getAttendees(userIds: readonly string[]): Promise<Map<string, AttendeeItem>> {
      const out = new Map<string, AttendeeItem>();
      await forEachLimited(chunks([...new Set(userIds)], 100), BATCH_GETS_IN_FLIGHT, async (batch) => {
        let keys: Record<string, unknown>[] | undefined = batch.map((u) => ({ user_id: u }));
        while (keys && keys.length) {
          const got: BatchGetCommandOutput = await doc.send(new BatchGetCommand({ RequestItems: { [A]: { Keys: keys } } }));
          for (const item of got.Responses?.[A] ?? []) out.set(String(item.user_id), item as AttendeeItem);
          keys = got.UnprocessedKeys?.[A]?.Keys;
        }
      });
      return out;
    },

    /** Records a sign-in: identity fields from the token, first/last seen; keeps the confirmation. Restarts the retention period. */
    async recordSeen(
      who: { userId: string; email?: string; emailNormalized?: string; emailVerified: boolean; displayName?: string; authProvider?: string },
      nowMs: number,
    ): Promise<AttendeeItem> {
      const e = new Expression();
      const at = e.value(new Date(nowMs).toISOString());
      const sets = [
        `${e.name("email_verified")} = ${e.value(who.emailVerified)}`,
        `${e.name("last_seen_at")} = ${at}`,
        `${e.name("first_seen_at")} = if_not_exists(${e.name("first_seen_at")}, ${at})`,
        `${e.name("ttl")} = ${e.value(attendeeTtl(nowMs, retention))}`,
      ];
      if (who.email !== undefined) sets.push(`${e.name("email")} = ${e.value(who.email)}`);
      if (who.emailNormalized !== undefined) sets.push(`${e.name("email_normalized")} = ${e.value(who.emailNormalized)}`);
      if (who.displayName !== undefined) sets.push(`${e.name("display_name")} = if_not_exists(${e.name("display_name")}, ${e.value(who.displayName)})`);
      if (who.authProvider !== undefined) sets.push(`${e.name("auth_provider")} = ${e.value(who.authProvider)}`);
      const res = await doc.send(
        new UpdateCommand({
          TableName: A,
          Key: { user_id: who.userId },
          UpdateExpression: `SET ${sets.join(", ")}`,
          ReturnValues: "ALL_NEW",
          ...e.params(),
        }),
      );
      return res.Attributes as AttendeeItem;
    },

    /** The confirm step's profile part: the display name (already cleaned by the caller). */
    async confirmProfile(userId: string, profile: { displayName: string }, nowMs: number): Promise<AttendeeItem> {
      const e = new Expression();
      const at = e.value(new Date(nowMs).toISOString());
      const sets = [
        `${e.name("display_name")} = ${e.value(profile.displayName)}`,
        `${e.name("confirmed_at")} = if_not_exists(${e.name("confirmed_at")}, ${at})`,
        `${e.name("first_seen_at")} = if_not_exists(${e.name("first_seen_at")}, ${at})`,
        `${e.name("last_seen_at")} = ${at}`,
        `${e.name("email_verified")} = if_not_exists(${e.name("email_verified")}, ${e.value(false)})`,
        `${e.name("ttl")} = ${e.value(attendeeTtl(nowMs, retention))}`,
      ];
      const res = await doc.send(
        new UpdateCommand({
          TableName: A,
          Key: { user_id: userId },
          UpdateExpression: `SET ${sets.join(", ")}`,
          ReturnValues: "ALL_NEW",
          ...e.params(),
        }),
      );
      return res.Attributes as AttendeeItem;
    },
  };
}
