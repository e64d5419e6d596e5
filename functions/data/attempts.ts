import { Expression, type Table } from "./table.js";
import type { Partitions } from "./partitions.js";

/**
 * One person's attempts in one attempt window (`domain/attempts.ts`): how many claims they sent and
 * how many of those carried a wrong room code. Each count is one UpdateItem whose condition is the
 * limit, so any number of containers racing each other stop at it; a refused count is a
 * ConditionRefusedError carrying the counts that refused it.
 */

export interface AttemptCounts {
  user_id: string;
  claims?: number;
  wrong_room_codes?: number;
  window_ends_at: number;
}

export type AttemptKind = "claims" | "wrong_room_codes";

/** An hour after its window ends the counter is of no use: DynamoDB's TTL removes it. */
const TTL_AFTER_WINDOW_S = 3600;

export function attemptStore(table: Table, partitions: Pick<Partitions, "attemptsKey">) {
  const { direct, W, conditional } = table;

  return {
    /**
     * Counts one attempt of each of `kinds` in one write, only while every limit in `below` still
     * holds (each count is strictly below its limit): `{claims: 30, wrong_room_codes: 10}` counts a
     * claim unless the person already made 30 claims or 10 wrong guesses in this window.
     */
    async countAttempt(slug: string, userId: string, window: { id: string; endsAt: number }, kinds: readonly AttemptKind[], below: Partial<Record<AttemptKind, number>>): Promise<void> {
      const e = new Expression();
      const key = await partitions.attemptsKey(slug, userId, window.id);
      const adds = kinds.map((kind) => `${e.name(kind)} ${e.value(1)}`).join(", ");
      const limits = Object.entries(below).map(([attr, max]) => `(attribute_not_exists(${e.name(attr)}) OR ${e.name(attr)} < ${e.value(max)})`);
      await conditional<AttemptCounts>("countAttempt", W, key, () =>
        direct.update({
          TableName: W,
          Key: key,
          UpdateExpression: `ADD ${adds} SET ${e.name("user_id")} = ${e.value(userId)}, ${e.name("window_ends_at")} = ${e.value(window.endsAt)}, ${e.name("ttl")} = ${e.value(Math.floor(window.endsAt / 1000) + TTL_AFTER_WINDOW_S)}`,
          ...(limits.length ? { ConditionExpression: limits.join(" AND ") } : {}),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          ...e.params(),
        }),
      );
    },
  };
}
