import { roundUsd } from "../workshops/derive.js";
import type { ClaimItem } from "../functions/data/store.js";

/**
 * Test support: what a workshop's ledger must say, from its claims alone (functions/api/api.md,
 * "The pool after a revoke"), top-ups and re-allowed claims included:
 *
 *   claimed   = #claims holding a slot
 *   committed = Σ limit of claims holding a slot + Σ (limit − returned) over revoked keys given back
 *               (a REVOKED claim's own key, and every earlier key of a claim allowed to claim again)
 */

export const holdsSlot = (c: ClaimItem) => c.status !== "RELEASED" && !(c.status === "REVOKED" && c.returned_usd !== undefined);

export function ledgerFromClaims(claims: readonly ClaimItem[]): { claimed: number; committed_usd: number } {
  let committed = 0;
  for (const c of claims) {
    if (holdsSlot(c)) committed += c.limit_usd;
    else if (c.status === "REVOKED") committed += c.limit_usd - c.returned_usd!;
    for (const e of c.earlier_keys ?? []) committed += e.limit_usd - e.returned_usd;
  }
  return { claimed: claims.filter(holdsSlot).length, committed_usd: roundUsd(committed) };
}
