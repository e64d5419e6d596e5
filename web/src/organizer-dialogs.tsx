import { useEffect, useRef, useState } from "preact/hooks";
import { poolAvailableUsd, revokeOutcome, type PoolTotals } from "../../workshops/pool.js";
import { formatUsd, formatWhen } from "./time.js";
import type { AdminClaim } from "./types.js";

/**
 * The organizer's confirmation dialogs for actions that move money (issue 22). Each says what the
 * pool gains or gives before the organizer confirms; the server re-checks every figure.
 */

function Dialog({ id, title, onCancel, children }: { id: string; title: string; onCancel: () => void; children: preact.ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby={`${id}-title`} onCancel={onCancel} onClose={onCancel}>
      <h2 id={`${id}-title`} class="h3">
        {title}
      </h2>
      {children}
    </dialog>
  );
}

/** The revoke dialog (one key, or a bulk selection) says what returns to the pool and how many places that frees. */
export function ConfirmRevoke({ claims, totals, onCancel, onConfirm }: { claims: AdminClaim[]; totals: PoolTotals; onCancel: () => void; onConfirm: () => void }) {
  const outcome = revokeOutcome(claims, totals);
  const one = claims.length === 1 ? claims[0]! : undefined;
  const synced = one?.usage_synced_at ? ` at ${formatWhen(one.usage_synced_at)}` : "";
  return (
    <Dialog id="revoke" title={one ? "Revoke this key?" : `Revoke ${claims.length} keys?`} onCancel={onCancel}>
      {one ? (
        <p>
          The key of <strong class="break">{one.display_name || one.email}</strong> ({one.email}) stops working at once. This cannot be undone.
        </p>
      ) : (
        <p>
          The keys of {claims.map((c) => c.email).join(", ")} stop working at once. This cannot be undone.
        </p>
      )}
      <p data-testid="revoke-returns">
        {one
          ? `Up to ${formatUsd(outcome.returns_usd)} goes back to the pool: its limit of ${formatUsd(one.limit_usd)} less the ${formatUsd(one.usage_usd)} it had spent${synced}.`
          : `Up to ${formatUsd(outcome.returns_usd)} in all goes back to the pool: their limits less what they had spent at the last sync.`}{" "}
        What {one ? "it spends" : "they spend"} before {one ? "it stops" : "they stop"}, and what {one ? "it" : "they"} spent, stay committed.
      </p>
      <p data-testid="revoke-place">
        {outcome.places_freed === 0
          ? `This does not free a full place: a new key needs ${formatUsd(totals.budget_usd)} and the pool will have at most ${formatUsd(outcome.pool_after_usd)} uncommitted.`
          : outcome.places_freed === 1
            ? "This frees a place: one more person can claim a key."
            : `This frees ${outcome.places_freed} places for others to claim.`}
      </p>
      <div class="dialog-actions">
        <button type="button" class="btn btn-secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="btn btn-danger" onClick={onConfirm}>
          {one ? "Revoke key" : `Revoke ${claims.length} keys`}
        </button>
      </div>
    </Dialog>
  );
}

/** A top-up: the amount comes from the pool, which the dialog shows; the server refuses more than it holds. */
export function TopUpDialog({ claims, totals, onCancel, onConfirm }: { claims: AdminClaim[]; totals: PoolTotals; onCancel: () => void; onConfirm: (amountUsd: number) => void }) {
  const [amount, setAmount] = useState("1");
  const value = Number(amount);
  const valid = Number.isFinite(value) && value > 0 && value <= 1000;
  const total = valid ? Math.round(value * claims.length * 1e6) / 1e6 : 0;
  const available = poolAvailableUsd(totals);
  const who = claims.length === 1 ? `the key of ${claims[0]!.display_name || claims[0]!.email}` : `${claims.length} keys`;
  return (
    <Dialog id="topup" title={claims.length === 1 ? "Top up this key" : `Top up ${claims.length} keys`} onCancel={onCancel}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (valid) onConfirm(value);
        }}
      >
        <label class="field" for="topup-amount">
          <span class="field-label">Amount per key (US dollars)</span>
          <input id="topup-amount" type="number" inputMode="decimal" min="0.01" max="1000" step="0.01" required value={amount} onInput={(e) => setAmount((e.target as HTMLInputElement).value)} />
        </label>
        <p data-testid="topup-total">
          Raises the limit of {who} by {valid ? formatUsd(value) : "—"}
          {claims.length > 1 && valid ? `, ${formatUsd(total)} in all` : ""}, taken from the pool, which has {formatUsd(available)} uncommitted of its{" "}
          {formatUsd(totals.cap_usd)} cap.
          {valid && total > available ? " That is more than the pool holds: some top-ups will be refused." : ""}
        </p>
        <div class="dialog-actions">
          <button type="button" class="btn btn-secondary" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={!valid}>
            Top up
          </button>
        </div>
      </form>
    </Dialog>
  );
}
