import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { attemptStore } from "./attempts.js";
import { attendeeStore } from "./attendees.js";
import { auditStore } from "./audit.js";
import { catalogStore } from "./catalog.js";
import { claimReadStore } from "./claim-reads.js";
import { claimStore } from "./claims.js";
import { consentStore } from "./consents.js";
import { deploymentStore } from "./deployment.js";
import { emailLockStore } from "./email-locks.js";
import { inviteStore } from "./invites.js";
import { ledgerStore } from "./ledger.js";
import { workshopPartitions } from "./partitions.js";
import { openTable } from "./table.js";
import { topUpStore } from "./top-ups.js";
import { DEFAULT_RETENTION, type RetentionPolicy, type TableNames } from "./tables.js";
import { usageStore } from "./usage.js";
import { workshopStore } from "./workshops.js";

/**
 * DynamoDB access for the product. Every invariant lives in a single-item conditional write (the
 * local DynamoDB has no transactions, and one hot ledger item under TransactWriteItems would conflict
 * anyway); a refused condition becomes a ConditionRefusedError carrying the item that refused it.
 * The item layout is documented in tables.ts; each item kind has its own module (README.md).
 */

export type { AttemptCounts, AttemptKind } from "./attempts.js";
export type { AttendeeItem } from "./attendees.js";
export type { ClaimReads } from "./claim-reads.js";
export type { AuditAction, AuditEntry } from "./audit.js";
export { CLAIM_STATUSES, type ClaimItem, type EarlierKey, type ClaimStatus, type ClaimTransition } from "./claims.js";
export type { WorkshopConsent } from "./consents.js";
export type { CreditCheck } from "./deployment.js";
export type { EmailLock } from "./email-locks.js";
export type { Invite } from "./invites.js";
export type { Ledger, LedgerSpendFigures, LiveUnspent } from "./ledger.js";
export type { TopUpLock } from "./top-ups.js";
export type { SpendSample, UsageObservation } from "./usage.js";
export type { WorkshopRecord } from "./workshops.js";

export interface StoreOptions {
  client: DynamoDBClient;
  tableNames: TableNames;
  /** How long items live before DynamoDB's TTL deletes them (default DEFAULT_RETENTION). */
  retention?: RetentionPolicy;
}

export type Store = ReturnType<typeof createStore>;

export function createStore({ client, tableNames, retention = DEFAULT_RETENTION }: StoreOptions) {
  const table = openTable({ client, tableNames, retention });
  const partitions = workshopPartitions(table);
  return {
    tableNames,
    ...workshopStore(table, partitions),
    ...catalogStore(table),
    ...deploymentStore(table),
    ...ledgerStore(table),
    ...claimStore(table, partitions),
    ...claimReadStore(table, partitions),
    ...usageStore(table, partitions),
    ...emailLockStore(table, partitions),
    ...attendeeStore(table),
    ...consentStore(table),
    ...attemptStore(table, partitions),
    ...topUpStore(table, partitions),
    ...auditStore(table),
    ...inviteStore(table),
  };
}
