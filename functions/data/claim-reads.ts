import { BatchGetCommand, type BatchGetCommandOutput } from "@aws-sdk/lib-dynamodb";
import type { AttendeeItem } from "./attendees.js";
import { ledgerOf, type Ledger } from "./ledger.js";
import type { Table } from "./table.js";
import { LEDGER_SK } from "./tables.js";

/**
 * What a claim reads before it writes, in one round trip: the attendee's profile (the attendees
 * table) and the workshop's ledger (the workshops table), as one BatchGet over both tables. Both
 * strongly consistent, as their single reads were. The ledger only decides whether to try: the
 * slot itself is taken by reserveSlot's conditional write.
 */
export function claimReadStore(table: Table) {
  const { doc, A, W } = table;
  return {
    async getClaimantAndLedger(userId: string, slug: string): Promise<{ attendee: AttendeeItem | undefined; ledger: Ledger }> {
      let attendee: AttendeeItem | undefined;
      let ledgerItem: Record<string, unknown> | undefined;
      let request: BatchGetCommandOutput["UnprocessedKeys"] = {
        [A]: { Keys: [{ user_id: userId }], ConsistentRead: true },
        [W]: { Keys: [{ pk: slug, sk: LEDGER_SK }], ConsistentRead: true },
      };
      // A BatchGet may leave keys unprocessed (throttling): ask again for those alone.
      while (request && Object.keys(request).length) {
        const got: BatchGetCommandOutput = await doc.send(new BatchGetCommand({ RequestItems: request }));
        attendee = (got.Responses?.[A]?.[0] as AttendeeItem | undefined) ?? attendee;
        ledgerItem = got.Responses?.[W]?.[0] ?? ledgerItem;
        request = got.UnprocessedKeys;
      }
      return { attendee, ledger: ledgerOf(ledgerItem) };
    },
  };
}
