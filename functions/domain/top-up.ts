import { randomUUID } from "node:crypto";
import { roundUsd } from "../../workshops/derive.js";
import { ConditionRefusedError } from "../data/errors.js";
import type { ClaimItem, Ledger } from "../data/store.js";
import { NotFoundError as UpstreamNotFoundError } from "../openrouter/errors.js";
import { budgetLeft, KEY_HOLDING } from "./claims.js";
import { describe, requireClaim, type EngineDeps } from "./engine-deps.js";
import { ClaimBusyError, ClaimStateError, OpenRouterUnavailableError, PoolTooSmallError } from "./errors.js";

/**
 * An organizer raises one key's limit by `amountUsd`, taken from the workshop's pool:
 *
 *   ledger ADD committed (only while committed + amount <= cap)      refused: PoolTooSmallError, nothing changed
 *   claim limit_usd from→from+amount, topup lock taken               refused: the key changed → try again on the
 *        (only while it holds that key live, at that limit, unlocked)        new state; gone/busy → amount back
 *   PATCH /keys/{hash} limit = what the claim's key may now spend    ok: lock released with OpenRouter's figures
 *        fails: put the old limit back upstream, then the claim's, then the amount back to the pool
 *
 * The lock makes one key's top-ups reach OpenRouter one at a time, so PATCHes of absolute limits
 * never overtake each other. A top-up that dies holding it leaves the claim's limit (and the
 * pool) above OpenRouter's: the safe side, and the next top-up past the lock's lease sets
 * OpenRouter to the claim's figure. A revoke meanwhile gives back what the raised limit left
 * unspent, so a failed top-up then gives nothing back itself.
 */
export async function topUp(d: EngineDeps, slug: string, userId: string, amountUsd: number): Promise<ClaimItem> {
  const w = (await d.workshops.get(slug)).config;
  const amount = roundUsd(amountUsd);
  let c = await requireClaim(d, slug, userId, "organizer");
  assertTopUpable(slug, c, d.now());

  const cap = w.openrouter.guardrail.cap_usd;
  try {
    await d.store.commitTopUp(slug, amount, cap);
  } catch (err) {
    if (!(err instanceof ConditionRefusedError)) throw err;
    const ledger = err.existing as Ledger;
    throw new PoolTooSmallError(slug, amount, Math.max(0, roundUsd(cap - ledger.committed_usd)), cap);
  }
  const giveBack = () => d.store.returnTopUp(slug, amount).catch((e) => d.log("topup_return_failed", { slug, user_id: userId, amount_usd: amount, error: describe(e) }));

  const id = randomUUID();
  const deadline = Date.now() + d.waitMs;
  let locked: ClaimItem;
  for (;;) {
    try {
      locked = await d.store.lockTopUp(slug, userId, c.key_hash!, { id, from_usd: c.limit_usd, amount_usd: amount, until: d.now() + d.leaseMs }, d.now());
      break;
    } catch (err) {
      // Any other error: the write may have landed, so the amount stays committed (the safe side).
      if (!(err instanceof ConditionRefusedError)) throw err;
      const current = err.existing as ClaimItem | undefined;
      const live = current !== undefined && current.key_hash !== undefined && KEY_HOLDING.includes(current.status);
      if (!live || Date.now() >= deadline) {
        await giveBack();
        if (live) throw new ClaimBusyError(slug, "Another top-up of this key is still reaching OpenRouter; nothing was changed. Try again in a minute.");
        throw new ClaimStateError(slug, current?.status ?? "NONE", `Only a live key can be topped up; this claim is ${current?.status ?? "gone"}. Nothing was taken from the pool.`);
      }
      if (current.topup && current.topup.until > d.now()) await d.sleep(d.pollMs);
      c = current;
    }
  }

  // The claim shows the raised limit now: the credit check's counter may count it (ledger.ts reserveSlot).
  await d.store.addCommittedEver(slug, amount).catch((e) => d.log("committed_ever_failed", { slug, user_id: userId, amount_usd: amount, error: describe(e) }));

  const hash = locked.key_hash!;
  let info;
  try {
    info = await d.openrouter.updateKey(hash, { limit: budgetLeft(locked) });
  } catch (err) {
    d.log("topup_failed", { slug, user_id: userId, key_hash: hash, error: describe(err) });
    await undo(d, locked, id, err);
    await giveBack();
    throw new OpenRouterUnavailableError("OpenRouter could not raise the key's limit just now; nothing was taken from the pool. Try again in a minute.", err);
  }
  d.log("key_topped_up", { slug, user_id: userId, key_hash: hash, amount_usd: amount, limit_usd: locked.limit_usd });
  try {
    return await d.store.unlockTopUp(slug, userId, id, { ...(info.limit_remaining === null ? {} : { limit_remaining: info.limit_remaining }), updated_at: d.iso() });
  } catch (err) {
    // A top-up that took the lock past its lease carries this one's amount on.
    if (err instanceof ConditionRefusedError && err.existing) return err.existing as ClaimItem;
    throw err;
  }
}

function assertTopUpable(slug: string, c: ClaimItem, nowMs: number): void {
  if (!KEY_HOLDING.includes(c.status) || !c.key_hash) {
    throw new ClaimStateError(slug, c.status, `Only a live key can be topped up; this claim is ${c.status}.`);
  }
  if (Date.parse(c.expires_at) <= nowMs) throw new ClaimStateError(slug, c.status, "This key has expired; a top-up would not reach it.");
}

/**
 * A PATCH that failed may still have landed (a timeout): OpenRouter's limit is put back first, then
 * the claim's. When neither can be confirmed, the raised figures stay (the pool holds the amount, the
 * key may have it) and the caller is told to try again, which sets OpenRouter to the claim's figure.
 */
async function undo(d: EngineDeps, locked: ClaimItem, id: string, cause: unknown): Promise<void> {
  const from = locked.topup!.from_usd;
  const hash = locked.key_hash!;
  if (!(cause instanceof UpstreamNotFoundError)) {
    try {
      await d.openrouter.updateKey(hash, { limit: budgetLeft({ ...locked, limit_usd: from }) });
    } catch (err) {
      if (!(err instanceof UpstreamNotFoundError)) {
        throw new OpenRouterUnavailableError(
          "OpenRouter did not answer, so the key may or may not have its new limit yet; the pool holds the amount for it. Top it up again in two minutes to set OpenRouter's limit to the one shown here.",
          err,
        );
      }
    }
  }
  try {
    await d.store.unlockTopUp(locked.slug, locked.user_id, id, { limit_usd: from, updated_at: d.iso() }, { onlyLive: true });
  } catch (err) {
    // Revoked meanwhile (its give-back counted the raised limit) or the lock passed on: the amount
    // is accounted for elsewhere, so it must not be given back here.
    if (err instanceof ConditionRefusedError) throw new OpenRouterUnavailableError("OpenRouter could not raise the key's limit, and the key changed meanwhile (revoked, or topped up again). Check the dashboard.", cause);
    throw err;
  }
}
