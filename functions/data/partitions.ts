import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { claimShards } from "../../workshops/derive.js";
import type { Workshop } from "../../workshops/schema.js";
import type { Table } from "./table.js";
import { attemptsSk, claimSk, emailSk, shardPk, shardPks, workshopConfigKey } from "./tables.js";
import { parseWorkshopItem } from "./workshops.js";

/**
 * Which partition each per-person item of a workshop lives in (tables.ts, "Sharded workshops"): the
 * workshop's own (pk = <slug>) up to CLAIM_SHARD_PLACES places, else one of `claimShards` partitions
 * (pk = <slug>#<hex>) chosen by a hash of the user id (claim, attempt counter) or the normalized
 * email (email lock). The shard count comes from the workshop's CONFIG item: learnt whenever the
 * store reads or writes it (the workshop cache reads it every 30 s, so a claim costs no extra read),
 * read here only when not learnt within SHARDS_MEMO_MS. It never changes once claims open
 * (`shardChangeRefusal`), so a count a few seconds old is the count.
 */

const SHARDS_MEMO_MS = 60_000;

export type Partitions = ReturnType<typeof workshopPartitions>;

export function workshopPartitions(table: Table) {
  const { doc, W } = table;
  const memo = new Map<string, { at: number; shards: number }>();

  async function shards(slug: string): Promise<number> {
    const hit = memo.get(slug);
    if (hit && Date.now() - hit.at <= SHARDS_MEMO_MS) return hit.shards;
    const got = await doc.send(new GetCommand({ TableName: W, Key: workshopConfigKey(slug) }));
    // No workshop item (a store used on its own, in tests): the one-partition layout, not remembered.
    if (!got.Item) return 1;
    return learn(slug, parseWorkshopItem(slug, got.Item).config);
  }

  function learn(slug: string, config: Workshop): number {
    const n = claimShards(config);
    memo.set(slug, { at: Date.now(), shards: n });
    return n;
  }

  return {
    learn,
    shards,
    async claimKey(slug: string, userId: string) {
      return { pk: shardPk(slug, await shards(slug), userId), sk: claimSk(userId) };
    },
    async emailKey(slug: string, emailNormalized: string) {
      return { pk: shardPk(slug, await shards(slug), emailNormalized), sk: emailSk(emailNormalized) };
    },
    /** Beside the person's claim. */
    async attemptsKey(slug: string, userId: string, window: string) {
      return { pk: shardPk(slug, await shards(slug), userId), sk: attemptsSk(userId, window) };
    },
    /** Every partition that may hold the workshop's claims. */
    async claimPartitions(slug: string): Promise<string[]> {
      return shardPks(slug, await shards(slug));
    },
  };
}
