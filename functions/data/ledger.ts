import { BatchGetCommand, type BatchGetCommandOutput, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { roundUsd } from "../../workshops/derive.js";
import { ConditionRefusedError } from "./errors.js";
import { Expression, type Table } from "./table.js";
import { LEDGER_SK } from "./tables.js";

/** The pooled-cap ledger, one item per workshop: every claim reserves a slot and its budget here (DESIGN.md). */

export interface Ledger {
  claimed: number;
  committed_usd: number;
  paused: boolean;
}

/**
 * What the credit check reads on the ledger besides the pooled cap (jobs/credits.ts): a cheap bound
 * on what the workshop's live keys can still spend, without reading its claims.
 */
export interface LedgerSpendFigures {
  ledger: Ledger;
  /**
   * Every amount ever committed here (claims' budgets, top-ups), never lowered by a release or a
   * revoke. 0 on a ledger no claim has touched since the attribute was introduced.
   */
  committed_ever_usd: number;
  /** What the workshop's live keys had not spent at its last sync; absent before the first. */
  live_unspent?: LiveUnspent;
}

/**
 * Σ max(0, limit − usage) over the live claims a sync read, with `committed_ever_usd` as it stood
 * just before that read: whatever was committed after it is not in `usd`, and the reader adds it.
 */
export interface LiveUnspent {
  usd: number;
  committed_ever_usd: number;
  synced_at: string;
}

/** On the ledger: what a revoked claim gave back, written with the give-back so it happens once. */
const returnedAttr = (claimId: string) => `returned#${claimId}`;

export const ledgerOf = (item: Record<string, unknown> | undefined): Ledger => ({
  claimed: Number(item?.claimed ?? 0),
  committed_usd: roundUsd(Number(item?.committed_usd ?? 0)),
  paused: item?.paused === true,
});

function spendFiguresOf(item: Record<string, unknown> | undefined): LedgerSpendFigures {
  const u = item?.live_unspent as Partial<LiveUnspent> | undefined;
  const valid = typeof u?.usd === "number" && typeof u.committed_ever_usd === "number" && typeof u.synced_at === "string";
  return {
    ledger: ledgerOf(item),
    committed_ever_usd: roundUsd(Number(item?.committed_ever_usd ?? 0)),
    ...(valid ? { live_unspent: { usd: u.usd!, committed_ever_usd: u.committed_ever_usd!, synced_at: u.synced_at! } } : {}),
  };
}

export function ledgerStore(table: Table) {
  const { doc, direct, W, conditional } = table;

  /** The LEDGER items of `slugs` (absent ones left out), 100 keys per BatchGet, strongly consistent. */
  async function ledgerItems(slugs: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const out = new Map<string, Record<string, unknown>>();
    for (let i = 0; i < slugs.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = slugs.slice(i, i + 100).map((s) => ({ pk: s, sk: LEDGER_SK }));
      while (keys && keys.length) {
        const got: BatchGetCommandOutput = await doc.send(new BatchGetCommand({ RequestItems: { [W]: { Keys: keys, ConsistentRead: true } } }));
        for (const item of got.Responses?.[W] ?? []) out.set(String(item.pk), item);
        keys = got.UnprocessedKeys?.[W]?.Keys;
      }
    }
    return out;
  }


  return {
    async getLedger(slug: string): Promise<Ledger> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: slug, sk: LEDGER_SK }, ConsistentRead: true }));
      return ledgerOf(got.Item);
    },

    async getLedgers(slugs: readonly string[]): Promise<Map<string, Ledger>> {
      const items = await ledgerItems(slugs);
      return new Map(slugs.map((s) => [s, ledgerOf(items.get(s))]));
    },

    /** The ledgers with what the credit check reads on them (one BatchGet per 100 workshops). */
    async getLedgerSpendFigures(slugs: readonly string[]): Promise<Map<string, LedgerSpendFigures>> {
      const items = await ledgerItems(slugs);
      return new Map(slugs.map((s) => [s, spendFiguresOf(items.get(s))]));
    },

    /**
     * Takes one slot and its budget: refused (ConditionRefusedError with the ledger) when the
     * workshop is paused, every slot is taken, or the budget would push committed USD above the cap.
     *
     * `committed_ever_usd` grows with it in the same write, which is right when the claim item that
     * shows the budget was written first (a new claim). A caller that writes the claim after the
     * ledger (a re-allowed claim) passes `countLater` and calls `addCommittedEver` once the claim
     * shows it: a sync between the two then counts it in the claims it reads, or after them in
     * the counter, never in neither (jobs/credits.ts).
     */
    async reserveSlot(slug: string, limits: { maxKeys: number; capUsd: number; budgetUsd: number }, opts: { countLater?: boolean } = {}): Promise<Ledger> {
      const e = new Expression();
      const claimed = e.name("claimed");
      const committed = e.name("committed_usd");
      const paused = e.name("paused");
      const one = e.value(1);
      const budget = e.value(limits.budgetUsd);
      const notPaused = `(attribute_not_exists(${paused}) OR ${paused} = ${e.value(false)})`;
      const slotFree = `(attribute_not_exists(${claimed}) OR ${claimed} < ${e.value(limits.maxKeys)})`;
      const budgetFits = `(attribute_not_exists(${committed}) OR ${committed} <= ${e.value(roundUsd(limits.capUsd - limits.budgetUsd))})`;
      // Callers refuse before reserving when the cap is below one budget (effective capacity 0).
      const condition = [notPaused, slotFree, budgetFits].join(" AND ");
      const item = await conditional<Ledger>("reserveSlot", W, { pk: slug, sk: LEDGER_SK }, () =>
        direct.update({
          TableName: W,
          Key: { pk: slug, sk: LEDGER_SK },
          // (DynamoDB refuses a placeholder the expressions do not use: the name only when it is added to.)
          UpdateExpression: `ADD ${claimed} ${one}, ${committed} ${budget}${opts.countLater ? "" : `, ${e.name("committed_ever_usd")} ${budget}`}`,
          ConditionExpression: condition,
          ReturnValues: "ALL_NEW",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          ...e.params(),
        }),
      ).catch((err: unknown) => {
        if (err instanceof ConditionRefusedError) {
          throw new ConditionRefusedError<Ledger>(err.operation, err.key, ledgerOf(err.existing as Record<string, unknown> | undefined), err.cause);
        }
        throw err;
      });
      return ledgerOf(item as Record<string, unknown> | undefined);
    },

    /** Adds to `committed_ever_usd` what a claim item now shows was committed (see reserveSlot, commitTopUp). */
    async addCommittedEver(slug: string, amountUsd: number): Promise<void> {
      const e = new Expression();
      await doc.send(
        new UpdateCommand({
          TableName: W,
          Key: { pk: slug, sk: LEDGER_SK },
          UpdateExpression: `ADD ${e.name("committed_ever_usd")} ${e.value(amountUsd)}`,
          ConditionExpression: `attribute_exists(${e.name("pk")})`,
          ...e.params(),
        }),
      );
    },

    /** Gives a slot and its budget back (a compensation or a release). Never drives the ledger below zero. */
    async releaseSlot(slug: string, budgetUsd: number): Promise<Ledger> {
      const e = new Expression();
      const claimed = e.name("claimed");
      const res = await conditional<Ledger>("releaseSlot", W, { pk: slug, sk: LEDGER_SK }, () =>
        doc.send(
          new UpdateCommand({
            TableName: W,
            Key: { pk: slug, sk: LEDGER_SK },
            UpdateExpression: `ADD ${claimed} ${e.value(-1)}, ${e.name("committed_usd")} ${e.value(-budgetUsd)}`,
            ConditionExpression: `${claimed} > ${e.value(0)}`,
            ReturnValues: "ALL_NEW",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            ...e.params(),
          }),
        ),
      );
      return ledgerOf((res as { Attributes?: Record<string, unknown> }).Attributes);
    },

    /**
     * Gives a revoked claim's slot and its unspent budget back to the pool, exactly once: the same
     * conditional write records the amount on the ledger under the claim's id, so a repeated or
     * concurrent give-back (two organizers, a retry after a crash) is refused and answers with the
     * amount that was given back the first time.
     */
    async returnRevokedSlot(slug: string, claimId: string, unspentUsd: number): Promise<{ returnedUsd: number; ledger: Ledger }> {
      const e = new Expression();
      const claimed = e.name("claimed");
      const returned = e.name(returnedAttr(claimId));
      const key = { pk: slug, sk: LEDGER_SK };
      try {
        const res = await conditional<Record<string, unknown>>("returnRevokedSlot", W, key, () =>
          doc.send(
            new UpdateCommand({
              TableName: W,
              Key: key,
              UpdateExpression: `ADD ${claimed} ${e.value(-1)}, ${e.name("committed_usd")} ${e.value(-unspentUsd)} SET ${returned} = ${e.value(unspentUsd)}`,
              ConditionExpression: `attribute_not_exists(${returned}) AND ${claimed} > ${e.value(0)}`,
              ReturnValues: "ALL_NEW",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
              ...e.params(),
            }),
          ),
        );
        return { returnedUsd: unspentUsd, ledger: ledgerOf((res as { Attributes?: Record<string, unknown> }).Attributes) };
      } catch (err) {
        if (!(err instanceof ConditionRefusedError)) throw err;
        const existing = err.existing as Record<string, unknown> | undefined;
        const first = existing?.[returnedAttr(claimId)];
        if (typeof first === "number") return { returnedUsd: first, ledger: ledgerOf(existing) };
        throw err;
      }
    },

    async setPaused(slug: string, pausedNow: boolean): Promise<Ledger> {
      const e = new Expression();
      const res = await doc.send(
        new UpdateCommand({
          TableName: W,
          Key: { pk: slug, sk: LEDGER_SK },
          UpdateExpression: `SET ${e.name("paused")} = ${e.value(pausedNow)}`,
          ReturnValues: "ALL_NEW",
          ...e.params(),
        }),
      );
      return ledgerOf(res.Attributes);
    },
  };
}
