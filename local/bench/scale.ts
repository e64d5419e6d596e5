import { randomBytes, randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { chunks, forEachLimited } from "../../functions/concurrency.js";
import type { ClaimItem } from "../../functions/data/store.js";
import { claimSk, shardPk, type TableNames } from "../../functions/data/tables.js";
import { claimIdFor } from "../../functions/domain/claims.js";
import { normalizeEmail } from "../../functions/domain/email.js";
import { claimShards, keyExpiresAt, keyName } from "../../workshops/derive.js";
import type { Workshop } from "../../workshops/schema.js";
import type { KeyRecord } from "../emulator/index.js";
import { emptyWindows, hashKey } from "../emulator/state.js";

/**
 * Seeding for the scenarios at scale (3,000 claims, 10,000 old keys): the items and upstream keys a
 * day of claims would leave, written in bulk. Claiming 3,000 keys through the engine would take most
 * of the bench's time and measure nothing new; what is measured here is what comes after.
 */

export interface SeededClaim {
  claim: ClaimItem;
  /** The key upstream, when the scenario's emulator is in this process. */
  key?: KeyRecord;
}

/** A key record as the emulator keeps one (as its POST /keys would have made it). */
function keyRecord(name: string, opts: { usage: number; limit: number; expiresAt: string; disabled: boolean; workspaceId: string; userId: string }): KeyRecord {
  const at = new Date().toISOString();
  return {
    hash: hashKey(randomBytes(32).toString("hex")),
    name,
    label: "sk-or-v1-abc...wxyz",
    disabled: opts.disabled,
    limit: opts.limit,
    limit_reset: null,
    include_byok_in_limit: false,
    usage: opts.usage,
    usage_windows: emptyWindows(Date.now()),
    created_at: at,
    updated_at: null,
    expires_at: opts.expiresAt,
    workspace_id: opts.workspaceId,
    creator_user_id: opts.userId,
  };
}

/**
 * `n` ACTIVE claims of `w`, each with its attendee profile and a consent answer (every other one
 * yes); with `upstream` (an in-process emulator's state) each also gets its key there, having spent
 * a little. User ids are UUIDs, as Cognito's subs are.
 */
export async function seedClaims(
  client: DynamoDBClient,
  names: TableNames,
  w: Workshop,
  n: number,
  upstream?: { keys: KeyRecord[]; default_workspace_id: string; user_id: string },
): Promise<SeededClaim[]> {
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const at = new Date().toISOString();
  const expiresAt = keyExpiresAt(w);
  const seeded: SeededClaim[] = Array.from({ length: n }, (_, i) => {
    const userId = randomUUID();
    const email = `attendee-${i}@example.com`;
    const claimId = claimIdFor(w.slug, userId);
    const name = keyName(w, claimId);
    const key = upstream
      ? keyRecord(name, { usage: 0.001 * (1 + (i % 50)), limit: w.openrouter.budget_usd, expiresAt, disabled: false, workspaceId: upstream.default_workspace_id, userId: upstream.user_id })
      : undefined;
    const claim: ClaimItem = {
      slug: w.slug,
      user_id: userId,
      email,
      email_normalized: normalizeEmail(email),
      display_name: `Attendee ${i}`,
      claim_id: claimId,
      status: "ACTIVE",
      key_name: name,
      key_hash: key?.hash ?? hashKey(`seeded-${userId}`),
      key: `seeded-plaintext-${i}`,
      limit_usd: w.openrouter.budget_usd,
      expires_at: expiresAt,
      usage_usd: 0,
      reserved_at: at,
      lease_until: Date.now() - 1,
      attempt: randomUUID(),
      claimed_at: at,
      updated_at: at,
      bound_at: at,
    };
    return { claim, key };
  });
  if (upstream) upstream.keys.push(...seeded.map((s) => s.key!));

  const items: { table: string; item: Record<string, unknown> }[] = seeded.flatMap(({ claim }, i) => {
    const { slug, ...attrs } = claim;
    return [
      // The claim's partition as the store places it: a workshop of 3,000 places is sharded.
      { table: names.workshops, item: { pk: shardPk(slug, claimShards(w), claim.user_id), sk: claimSk(claim.user_id), ...attrs } },
      {
        table: names.attendees,
        item: { user_id: claim.user_id, email: claim.email, email_normalized: claim.email_normalized, email_verified: true, display_name: claim.display_name, first_seen_at: at, last_seen_at: at, confirmed_at: at },
      },
      {
        table: names.workshops,
        item: { pk: slug, sk: `CONSENT#${claim.user_id}`, user_id: claim.user_id, marketing_opted_in: i % 2 === 0, decided_at: at, ...(i % 2 === 0 ? { opted_in_at: at } : {}) },
      },
    ];
  });
  await forEachLimited(chunks(items, 25), 8, async (batch) => {
    let requests: Record<string, { PutRequest: { Item: Record<string, unknown> } }[]> | undefined = {};
    for (const { table, item } of batch) (requests[table] ??= []).push({ PutRequest: { Item: item } });
    while (requests && Object.keys(requests).length > 0) {
      const res = await doc.send(new BatchWriteCommand({ RequestItems: requests }));
      requests = res.UnprocessedItems as typeof requests;
    }
  });
  return seeded;
}

/** `n` disabled keys of workshops long over (what expire left behind before keys were deleted). */
export function seedOldKeys(upstream: { keys: KeyRecord[]; default_workspace_id: string; user_id: string }, n: number): void {
  const expiresAt = new Date(Date.now() - 30 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
  for (let i = 0; i < n; i++) {
    upstream.keys.push(
      keyRecord(`old-workshop-${i % 40}/claim-${i}`, { usage: 0.5, limit: 2, expiresAt, disabled: true, workspaceId: upstream.default_workspace_id, userId: upstream.user_id }),
    );
  }
}
