import type { BatchGetCommandInput } from "@aws-sdk/lib-dynamodb";
import type { AttemptCounts } from "./attempts.js";
import type { AttendeeItem } from "./attendees.js";
import { ledgerOf, type Ledger } from "./ledger.js";
import type { Table } from "./table.js";
import type { Partitions } from "./partitions.js";
import { LEDGER_SK } from "./tables.js";

/** What a claim reads before it writes anything. */
export interface ClaimReads {
  /** Undefined when not asked for (`withAttendee: false`) or never signed in. */
  attendee: AttendeeItem | undefined;
  ledger: Ledger;
  /** The person's counts in the attempt window read (undefined: nothing counted in it yet). */
  attempts: AttemptCounts | undefined;
  /** The attempt window the counts belong to (`domain/attempts.ts` `attemptWindow(...).id`). */
  attemptWindow: string;
}

/**
 * What a claim reads before it writes, in one round trip: the attendee's profile (the attendees
 * table), the workshop's ledger and the person's attempt counter for this window (the workshops
 * table), as one BatchGet over both tables. All strongly consistent, as their single reads were. The
 * ledger and the counts only decide whether to try: the slot is taken by reserveSlot's conditional
 * write, and the counts are enforced by countAttempt's (domain/attempts.ts says when it runs).
 */
export function claimReadStore(table: Table, partitions: Pick<Partitions, "attemptsKey">) {
  const { direct, A, W } = table;
  return {
    async getClaimReads(userId: string, slug: string, attemptWindow: string, opts: { withAttendee?: boolean } = {}): Promise<ClaimReads> {
      const ledgerKey = { pk: slug, sk: LEDGER_SK };
      const attemptsKey = await partitions.attemptsKey(slug, userId, attemptWindow);
      let attendee: AttendeeItem | undefined;
      let ledgerItem: Record<string, unknown> | undefined;
      let attempts: AttemptCounts | undefined;
      let request: BatchGetCommandInput["RequestItems"] = {
        ...(opts.withAttendee === false ? {} : { [A]: { Keys: [{ user_id: userId }], ConsistentRead: true } }),
        [W]: { Keys: [ledgerKey, attemptsKey], ConsistentRead: true },
      };
      // A BatchGet may leave keys unprocessed (throttling): ask again for those alone.
      while (request && Object.keys(request).length) {
        const got = await direct.batchGet(request);
        attendee = (got.responses[A]?.[0] as AttendeeItem | undefined) ?? attendee;
        for (const item of got.responses[W] ?? []) {
          if (item.sk === LEDGER_SK) ledgerItem = item;
          else attempts = item as AttemptCounts;
        }
        request = got.unprocessed;
      }
      return { attendee, ledger: ledgerOf(ledgerItem), attempts, attemptWindow };
    },
  };
}
