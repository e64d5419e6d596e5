import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { useSession } from "./account.js";
import { api, apiBlob, ApiError, errorMessage } from "./api.js";
import { HealthPanel } from "./health-panel.js";
import { signIn } from "./auth.js";
import { STATE_LABEL } from "./phase.js";
import { ConfirmRevoke, TopUpDialog } from "./organizer-dialogs.js";
import { AuditPanel, ClaimOnBehalfPanel, InviteListPanel } from "./organizer-panels.js";
import { RoomCodePanel } from "./room-code-display.js";
import type { Route } from "./router.js";
import { useSessionEnded } from "./session-ended.js";
import { USD_AXIS_STEPS, usdAxisLabels } from "./spend-axis.js";
import { findWorkshop } from "./site-data.js";
import { SYNC_AFTER_EXPIRE_MS, SYNC_EVERY_MINUTES } from "../../functions/domain/timetable.js";
import { formatAgo, formatUsd, formatWhen, serverNow, useNow } from "./time.js";
import type { AdminClaim, AdminClaims, AdminWorkshop, ClaimStatus, CreditCheck, SiteProps, WorkshopState } from "./types.js";
import { Meter, Notice, PageTitle, Spinner } from "./ui.js";

/**
 * The organizer dashboard: every workshop the signed-in person organizes, and per workshop the
 * claims, the money against the cap, and the buttons that repair or stop things. Loaded only on
 * /organizer routes, so the chart library never reaches an attendee's phone.
 */

const REFRESH_MS = 15_000;

function useAdminWorkshops(enabled: boolean) {
  const [workshops, setWorkshops] = useState<AdminWorkshop[] | null>(null);
  const [credits, setCredits] = useState<CreditCheck | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const load = async () => {
    try {
      const body = await api<{ workshops: AdminWorkshop[]; credits: CreditCheck | null }>("/admin/workshops", { auth: true });
      setWorkshops(body.workshops);
      setCredits(body.credits ?? null);
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(errorMessage(err), 0, "unknown"));
    }
  };
  useEffect(() => {
    if (!enabled) return;
    void load();
    const id = setInterval(() => document.visibilityState === "visible" && void load(), REFRESH_MS);
    return () => clearInterval(id);
  }, [enabled]);
  return { workshops, credits, error, reload: load, setWorkshops };
}

/**
 * One OpenRouter account pays for every workshop's keys: when its credit is below what open and
 * upcoming workshops can still spend (checked by the jobs), every key would stop with 402 at once.
 */
function CreditWarning({ credits }: { credits: CreditCheck | null }) {
  if (!credits || credits.shortfall_usd <= 0) return null;
  return (
    <Notice tone="warn" title={`OpenRouter credit is ${formatUsd(credits.shortfall_usd)} short`}>
      <p data-testid="credit-shortfall">
        The account has {formatUsd(credits.available_usd)} left, but the keys of open and upcoming workshops can still spend up to{" "}
        {formatUsd(credits.worst_case_usd)}. Add at least {formatUsd(credits.shortfall_usd)} at openrouter.ai/credits, or attendees' keys will stop
        working (402) before their budgets are used up.
      </p>
      <p class="small muted">Checked {formatWhen(credits.checked_at)} by the scheduled jobs.</p>
    </Notice>
  );
}

function SignInFirst({ returnTo }: { returnTo: string }) {
  const ended = useSessionEnded();
  return (
    <>
      <PageTitle title="Organizer dashboard" />
      <p>Sign in with the email listed as an organizer in the workshop file.</p>
      {/* After a session ended, the notice above has the one sign-in button. */}
      {!ended && (
        <button type="button" class="btn btn-primary" onClick={() => void signIn(returnTo)}>
          Sign in
        </button>
      )}
    </>
  );
}

/**
 * "synced 3 min ago": how old a spend figure is. Totals come from the sync job's samples; a claim's
 * own figure may be fresher (its owner's key page reads it live), so it is "read".
 */
function SyncedAgo({ at, verb = "synced" }: { at: string | null; verb?: "synced" | "read" }) {
  const now = useNow(15_000);
  return <>{at ? `${verb} ${formatAgo(now - Date.parse(at))}` : `not ${verb} yet`}</>;
}

// Workshops that need the organizer now come first: claims open (or paused, or sold out), then
// the next to open, then the past ones, most recent first.
const STATE_ORDER: Record<WorkshopState, number> = { open: 0, paused: 0, sold_out: 0, upcoming: 1, closed: 2 };

export function organizerOrder(workshops: AdminWorkshop[]): AdminWorkshop[] {
  return [...workshops].sort(
    (a, b) =>
      STATE_ORDER[a.state] - STATE_ORDER[b.state] ||
      (a.state === "closed" ? b.claims_close_at.localeCompare(a.claims_close_at) : a.claims_open_at.localeCompare(b.claims_open_at)) ||
      a.slug.localeCompare(b.slug),
  );
}

function WorkshopList({ workshops }: { workshops: AdminWorkshop[] }) {
  if (workshops.length === 0) {
    return (
      <Notice title="You do not organize any workshop.">
        <p>Ask to be added to the workshop file's organizers list; a global admin sees every workshop.</p>
      </Notice>
    );
  }
  return (
    <ul class="cards">
      {organizerOrder(workshops).map((w) => (
        <li key={w.slug}>
          <a class="card card-link" href={`/organizer/${w.slug}`}>
            <span class="card-top">
              <span class="eyebrow">{w.event}</span>
              <span class={`badge badge-${w.state}`}>{STATE_LABEL[w.state]}</span>
            </span>
            <span class="card-title">{w.name}</span>
            <span class="card-detail">
              {w.claimed} of {w.capacity} keys claimed ·{" "}
              <span data-testid="list-spend">
                {formatUsd(w.usage_usd)} spent of {formatUsd(w.cap_usd)} cap (<SyncedAgo at={w.usage_synced_at} />)
              </span>
            </span>
          </a>
        </li>
      ))}
    </ul>
  );
}

const SYNC_PERIOD_MS = SYNC_EVERY_MINUTES * 60_000;

/**
 * When the chart will have its two points, from the sync job's timetable (every few minutes from
 * claims opening until an hour after the keys expire); null once no more syncs will run.
 */
export function chartAppearsAt(w: Pick<AdminWorkshop, "claims_open_at" | "key_expires_at">, samples: number, now: number): number | null {
  const from = Date.parse(w.claims_open_at);
  const until = Date.parse(w.key_expires_at) + SYNC_AFTER_EXPIRE_MS;
  const nextSync = now <= from ? from : from + Math.ceil((now - from) / SYNC_PERIOD_MS) * SYNC_PERIOD_MS;
  const at = nextSync + Math.max(0, 1 - samples) * SYNC_PERIOD_MS;
  return at > until ? null : at;
}

function SpendChart({ spend, capUsd, workshop }: { spend: AdminClaims["spend"]; capUsd: number; workshop: AdminWorkshop | undefined }) {
  const box = useRef<HTMLDivElement>(null);
  const points = spend.filter((p) => Number.isFinite(Date.parse(p.at)));
  useEffect(() => {
    const el = box.current;
    if (!el || points.length < 2) return;
    const css = getComputedStyle(document.documentElement);
    const accent = css.getPropertyValue("--accent").trim() || "#3d3acb";
    const text = css.getPropertyValue("--muted").trim() || "#555";
    const grid = css.getPropertyValue("--line").trim() || "#ddd";
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const data: uPlot.AlignedData = [points.map((p) => Date.parse(p.at) / 1000), points.map((p) => p.usage_usd)];
    const plot = new uPlot(
      {
        width: el.clientWidth,
        height: 220,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { y: { range: (_u, _min, max) => [0, Math.max(max * 1.15, 0.02)] } },
        axes: [
          axis,
          {
            ...axis,
            size: 64,
            incrs: USD_AXIS_STEPS,
            values: (_u, ticks, _axis, _space, step) => usdAxisLabels(ticks, step),
          },
        ],
        series: [{}, { label: "Spend", stroke: accent, width: 2, fill: `${accent}22`, points: { show: false } }],
      },
      data,
      el,
    );
    const onResize = () => plot.setSize({ width: el.clientWidth, height: 220 });
    window.addEventListener("resize", onResize);
    return () => {
      window.removeEventListener("resize", onResize);
      plot.destroy();
    };
  }, [JSON.stringify(points)]);
  const last = points.at(-1);
  const appears = workshop ? chartAppearsAt(workshop, points.length, serverNow()) : null;
  return (
    <figure class="chart">
      {points.length < 2 ? (
        <p class="muted chart-empty" data-testid="chart-empty">
          {appears === null
            ? "Too few usage syncs ran to draw a spend chart."
            : `The spend chart appears after ${points.length === 0 ? "two usage syncs" : "the next usage sync"}, about ${formatWhen(new Date(appears).toISOString())} (usage syncs every ${SYNC_EVERY_MINUTES} minutes while claims are open).`}
        </p>
      ) : (
        <div ref={box} role="img" aria-label={`Spend over time; latest ${formatUsd(last?.usage_usd ?? 0)} of a ${formatUsd(capUsd)} cap`} />
      )}
      <figcaption class="small muted">
        Total spend of all keys over time (US dollars){last ? <>, <SyncedAgo at={last.at} /></> : null}.
      </figcaption>
    </figure>
  );
}

/** States whose key can be topped up or revoked (and so selected for a bulk action). */
const LIVE: ClaimStatus[] = ["ACTIVE", "UNBOUND", "MINTED"];

const STATUS_WORDS: Record<ClaimStatus, string> = {
  ACTIVE: "Active",
  UNBOUND: "Unbound",
  MINTED: "Minted",
  RESERVED: "Reserving",
  REVOKED: "Revoked",
  EXPIRED: "Expired",
  RELEASED: "Released",
};

/** The line under a claim's status: why it is UNBOUND and what to do, or what a revoked key gave back. */
function ClaimNote({ c }: { c: AdminClaim }) {
  if (c.status === "UNBOUND") {
    return (
      <span class="claim-error">
        {c.unbound_reason ?? "The key could not be attached to the workshop's model allowlist yet."} The key works meanwhile. Press Retry, or
        leave it to the sync every 5 minutes.
      </span>
    );
  }
  if (c.handed_out_by && (c.status === "ACTIVE" || c.status === "MINTED")) {
    return <span class="claim-note">Claimed in the room by {c.handed_out_by}.</span>;
  }
  if (c.status === "REVOKED" && c.reallowed_at) {
    return <span class="claim-note">Turned off; allowed a new key: they can claim again from the workshop page.</span>;
  }
  if (c.status === "REVOKED") {
    return (
      <span class="claim-note">
        {c.returned_usd === null
          ? "Turned off; its budget is not back in the pool yet (OpenRouter did not say what it spent). Press Finish revoking."
          : `Turned off; ${formatUsd(c.returned_usd)} of its budget went back to the pool.`}
      </span>
    );
  }
  return null;
}

function ClaimsTable({
  claims,
  busy,
  onRetry,
  onRevoke,
  onFinishRevoke,
  onTopUp,
  onAllowAgain,
  selected,
  onSelect,
}: {
  claims: AdminClaim[];
  busy: string | null;
  onTopUp: (c: AdminClaim) => void;
  onAllowAgain: (c: AdminClaim) => void;
  selected: Set<string>;
  onSelect: (userId: string, on: boolean) => void;
  onRetry: (c: AdminClaim) => void;
  onRevoke: (c: AdminClaim) => void;
  onFinishRevoke: (c: AdminClaim) => void;
}) {
  const [filter, setFilter] = useState("");
  const q = filter.trim().toLowerCase();
  const shown = q ? claims.filter((c) => `${c.email} ${c.display_name} ${c.status}`.toLowerCase().includes(q)) : claims;
  return (
    <>
      <label class="field field-inline" for="claims-filter">
        <span class="field-label">Find</span>
        <input id="claims-filter" type="search" placeholder="email, name or status" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
      </label>
      <div class="table-wrap">
        <table class="claims">
          <caption class="visually-hidden">Claims</caption>
          <thead>
            <tr>
              <th scope="col">
                <span class="visually-hidden">Select</span>
              </th>
              <th scope="col">Attendee</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">
                Spent
              </th>
              <th scope="col">Claimed</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.length === 0 && (
              <tr>
                <td colSpan={6} class="muted">
                  {claims.length === 0 ? "No claims yet." : "No claim matches."}
                </td>
              </tr>
            )}
            {shown.map((c) => (
              <tr key={c.user_id} data-user={c.user_id}>
                <td>
                  {LIVE.includes(c.status) && (
                    <input type="checkbox" checked={selected.has(c.user_id)} onChange={(e) => onSelect(c.user_id, (e.target as HTMLInputElement).checked)} aria-label={`Select ${c.email}`} />
                  )}
                </td>
                <th scope="row">
                  <span class="claim-name">{c.display_name || "—"}</span>
                  <span class="claim-email">{c.email}</span>
                </th>
                <td>
                  <span class={`status status-${c.status.toLowerCase()}`}>{STATUS_WORDS[c.status] ?? c.status}</span>
                  <ClaimNote c={c} />
                </td>
                <td class="num">
                  {formatUsd(c.usage_usd)}
                  <span class="muted"> / {formatUsd(c.limit_usd)}</span>
                  <span class="claim-synced">
                    <SyncedAgo at={c.usage_synced_at} verb="read" />
                  </span>
                </td>
                <td class="nowrap">{formatWhen(c.claimed_at)}</td>
                <td class="row-actions">
                  {c.status === "UNBOUND" && (
                    <button type="button" class="btn btn-small" disabled={busy === c.user_id} onClick={() => onRetry(c)} aria-label={`Retry binding for ${c.email}`}>
                      Retry
                    </button>
                  )}
                  {(c.status === "ACTIVE" || c.status === "UNBOUND" || c.status === "MINTED") && (
                    <button type="button" class="btn btn-small" disabled={busy === c.user_id} onClick={() => onTopUp(c)} aria-label={`Top up the key of ${c.email}`}>
                      Top up
                    </button>
                  )}
                  {(c.status === "ACTIVE" || c.status === "UNBOUND" || c.status === "MINTED") && (
                    <button type="button" class="btn btn-small btn-danger" disabled={busy === c.user_id} onClick={() => onRevoke(c)} aria-label={`Revoke the key of ${c.email}`}>
                      Revoke
                    </button>
                  )}
                  {c.status === "REVOKED" && c.returned_usd !== null && !c.reallowed_at && (
                    <button type="button" class="btn btn-small" disabled={busy === c.user_id} onClick={() => onAllowAgain(c)} aria-label={`Allow a new key for ${c.email}`}>
                      Allow a new key
                    </button>
                  )}
                  {c.status === "REVOKED" && c.returned_usd === null && (
                    <button type="button" class="btn btn-small" disabled={busy === c.user_id} onClick={() => onFinishRevoke(c)} aria-label={`Finish revoking the key of ${c.email}`}>
                      Finish revoking
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

async function downloadCsv(slug: string, file: "marketing" | "attendance" | "audit"): Promise<void> {
  const blob = await apiBlob(`/admin/workshops/${slug}/${file}.csv`, { auth: true });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = file === "marketing" ? `${slug}-marketing-consent.csv` : `${slug}-${file}.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function WorkshopDashboard({ slug, workshop, roomCode, onStatus }: { slug: string; workshop: AdminWorkshop | undefined; roomCode: boolean; onStatus: () => void }) {
  const [data, setData] = useState<AdminClaims | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<AdminClaim[] | null>(null);
  const [toppingUp, setToppingUp] = useState<AdminClaim[] | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  // Bumped after every action, so the audit list follows.
  const [actions, setActions] = useState(0);
  const load = async () => {
    try {
      setData(await api<AdminClaims>(`/admin/workshops/${slug}/claims`, { auth: true }));
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  useEffect(() => {
    void load();
    const id = setInterval(() => document.visibilityState === "visible" && void load(), REFRESH_MS);
    return () => clearInterval(id);
  }, [slug]);

  const act = async (id: string, what: () => Promise<unknown>, done: string) => {
    setBusy(id);
    setMessage(null);
    try {
      await what();
      setMessage({ tone: "ok", text: done });
      await Promise.all([load(), onStatus()]);
      setActions((n) => n + 1);
    } catch (err) {
      setMessage({ tone: "error", text: errorMessage(err) });
    } finally {
      setBusy(null);
    }
  };

  const title = workshop?.name ?? slug;
  const paused = workshop?.paused ?? false;
  const totals = data?.totals;
  const lastSample = data?.spend.at(-1);
  const spent = lastSample?.usage_usd ?? 0;
  const chosen = (data?.claims ?? []).filter((c) => selected.has(c.user_id) && LIVE.includes(c.status));
  /** One request per key, one after another (each is its own conditional write); the message says what moved. */
  const bulk = (list: AdminClaim[], path: string, body: unknown, done: (ok: number, failed: string[]) => string) =>
    act(
      "bulk",
      async () => {
        const failed: string[] = [];
        for (const c of list) {
          try {
            await api(`/admin/workshops/${slug}/claims/${encodeURIComponent(c.user_id)}/${path}`, { method: "POST", auth: true, body });
          } catch (err) {
            failed.push(`${c.email}: ${errorMessage(err)}`);
          }
        }
        setSelected(new Set());
        if (failed.length) throw new Error(`${done(list.length - failed.length, failed)} Not done: ${failed.join("; ")}`);
      },
      done(list.length, []),
    );
  return (
    <>
      <p class="back">
        <a href="/organizer">← All your workshops</a>
      </p>
      <PageTitle title={title} />
      {workshop && (
        <p class="muted">
          {workshop.event} · {workshop.location} · <span class={`badge badge-${workshop.state}`}>{STATE_LABEL[workshop.state]}</span>
        </p>
      )}
      <div class="toolbar">
        {/* Pausing a closed workshop would change nothing: no claim can be made there anyway. */}
        {workshop?.window !== "closed" && (
          <button
            type="button"
            class={paused ? "btn btn-primary" : "btn btn-secondary"}
            disabled={busy === "pause"}
            onClick={() =>
              act(
                "pause",
                () => api(`/admin/workshops/${slug}/${paused ? "resume" : "pause"}`, { method: "POST", auth: true, body: {} }),
                paused ? "Claims resumed." : "Claims paused. Attendees see a message until you resume.",
              )
            }
          >
            {paused ? "Resume claims" : "Pause claims"}
          </button>
        )}
        <button type="button" class="btn btn-secondary" disabled={busy === "csv"} onClick={() => act("csv", () => downloadCsv(slug, "marketing"), "CSV downloaded.")}>
          Download consenting attendees (CSV)
        </button>
        <button
          type="button"
          class="btn btn-secondary"
          disabled={busy === "attendance"}
          onClick={() => act("attendance", () => downloadCsv(slug, "attendance"), "Attendance CSV downloaded.")}
        >
          Download attendance (CSV)
        </button>
        <a class="btn btn-secondary" href={`/w/${slug}/projector`} target="_blank" rel="noopener">
          Projector view
        </a>
        <a class="btn btn-secondary" href={`/w/${slug}`}>
          Attendee page
        </a>
      </div>
      {roomCode && <RoomCodePanel slug={slug} claimsClosed={workshop?.window === "closed"} />}
      <HealthPanel slug={slug} />
      {message && (
        <Notice tone={message.tone === "ok" ? "ok" : "error"}>
          <p>{message.text}</p>
        </Notice>
      )}
      {error && <Notice tone="error">{error}</Notice>}
      {!data && !error && <Spinner label="Loading claims…" />}
      {totals && data && (
        <>
          <section class="totals" aria-label="Totals">
            <div class="total">
              <p class="total-label">Keys claimed</p>
              <p class="total-value">
                {totals.claimed} <span class="muted">/ {totals.capacity}</span>
              </p>
              <Meter value={totals.claimed} max={totals.capacity} label="Keys claimed" />
              {totals.revoked.keys > 0 && (
                <p class="total-note" data-testid="revoked-total">
                  Not counted: {totals.revoked.keys} revoked {totals.revoked.keys === 1 ? "key" : "keys"}, which spent{" "}
                  {formatUsd(totals.revoked.usage_usd)}.
                </p>
              )}
            </div>
            <div class="total">
              <p class="total-label">Committed budget</p>
              <p class="total-value">
                {formatUsd(totals.committed_usd)} <span class="muted">/ {formatUsd(totals.cap_usd)}</span>
              </p>
              <Meter value={totals.committed_usd} max={totals.cap_usd} label="Committed budget against the cap" />
            </div>
            <div class="total">
              <p class="total-label">Spent so far</p>
              {/* The last sync's total, the figure the workshop list shows too (it reads no claims). */}
              <p class="total-value" data-testid="dashboard-spend">
                {formatUsd(spent)} <span class="muted">/ {formatUsd(totals.cap_usd)}</span>
              </p>
              <Meter value={spent} max={totals.cap_usd} label="Spend against the cap" />
              <p class="total-note">
                All keys, <SyncedAgo at={lastSample?.at ?? null} />.
              </p>
            </div>
          </section>
          <SpendChart spend={data.spend} capUsd={totals.cap_usd} workshop={workshop} />
          <h2>Claims</h2>
          <InviteListPanel slug={slug} onUploaded={() => setActions((n) => n + 1)} />
          <ClaimOnBehalfPanel slug={slug} onClaimed={() => void load().then(() => setActions((n) => n + 1))} />
          {chosen.length > 0 && (
            <div class="toolbar" role="group" aria-label="Selected keys">
              <span>{chosen.length} selected</span>
              <button type="button" class="btn btn-secondary" onClick={() => setToppingUp(chosen)}>
                Top up selected
              </button>
              <button type="button" class="btn btn-danger" onClick={() => setRevoking(chosen)}>
                Revoke selected
              </button>
            </div>
          )}
          <ClaimsTable
            claims={data.claims}
            busy={busy}
            onRetry={(c) =>
              act(
                c.user_id,
                () => api(`/admin/workshops/${slug}/claims/${encodeURIComponent(c.user_id)}/retry-binding`, { method: "POST", auth: true, body: {} }),
                `Retried the guardrail binding for ${c.email}.`,
              )
            }
            onRevoke={(c) => setRevoking([c])}
            onTopUp={(c) => setToppingUp([c])}
            onAllowAgain={(c) =>
              act(
                c.user_id,
                () => api(`/admin/workshops/${slug}/claims/${encodeURIComponent(c.user_id)}/allow-again`, { method: "POST", auth: true, body: {} }),
                `${c.email} can claim a new key now.`,
              )
            }
            selected={selected}
            onSelect={(userId, on) => {
              const next = new Set(selected);
              if (on) next.add(userId);
              else next.delete(userId);
              setSelected(next);
            }}
            onFinishRevoke={(c) =>
              act(
                c.user_id,
                () => api(`/admin/workshops/${slug}/claims/${encodeURIComponent(c.user_id)}/revoke`, { method: "POST", auth: true, body: {} }),
                `The budget of ${c.email}'s key is back in the pool.`,
              )
            }
          />
        </>
      )}
      {toppingUp && totals && (
        <TopUpDialog
          claims={toppingUp}
          totals={totals}
          onCancel={() => setToppingUp(null)}
          onConfirm={(amount) => {
            const list = toppingUp;
            setToppingUp(null);
            if (list.length > 1) {
              void bulk(list, "top-up", { amount_usd: amount }, (n) => `Topped up ${n} keys by ${formatUsd(amount)}: ${formatUsd(n * amount)} in all from the pool.`);
              return;
            }
            const c = list[0]!;
            void act(
              c.user_id,
              () => api(`/admin/workshops/${slug}/claims/${encodeURIComponent(c.user_id)}/top-up`, { method: "POST", auth: true, body: { amount_usd: amount } }),
              `Topped up the key of ${c.email} by ${formatUsd(amount)}.`,
            );
          }}
        />
      )}
      {revoking && totals && (
        <ConfirmRevoke
          claims={revoking}
          totals={totals}
          onCancel={() => setRevoking(null)}
          onConfirm={() => {
            const list = revoking;
            setRevoking(null);
            if (list.length > 1) {
              void bulk(list, "revoke", {}, (n) => `Revoked ${n} keys.`);
              return;
            }
            const c = list[0]!;
            void act(
              c.user_id,
              () => api(`/admin/workshops/${slug}/claims/${encodeURIComponent(c.user_id)}/revoke`, { method: "POST", auth: true, body: {} }),
              `Revoked the key of ${c.email}.`,
            );
          }}
        />
      )}
      {data && <AuditPanel slug={slug} version={actions} onDownload={() => void act("audit", () => downloadCsv(slug, "audit"), "Organizer actions CSV downloaded.")} />}
    </>
  );
}

export function OrganizerPage({ catalog, route }: SiteProps & { route: Route }) {
  const slug = route.page === "organizer" ? route.slug : null;
  const session = useSession();
  const { workshops, credits, error, reload } = useAdminWorkshops(session !== null);
  if (!session) return <SignInFirst returnTo={slug ? `/organizer/${slug}` : "/organizer"} />;
  if (error && !workshops) {
    return (
      <>
        <PageTitle title="Organizer dashboard" />
        <Notice tone="error" title={error.status === 403 ? "This page is for workshop organizers." : undefined}>
          <p>{error.status === 403 ? "Your account is not an organizer of any workshop." : error.message}</p>
        </Notice>
      </>
    );
  }
  if (!workshops) return <Spinner label="Loading your workshops…" />;
  if (slug) {
    const workshop = workshops.find((w) => w.slug === slug);
    if (!workshop) {
      return (
        <>
          <PageTitle title="Organizer dashboard" />
          <Notice tone="error" title="You do not organize this workshop.">
            <p>
              <a href="/organizer">See the workshops you organize</a>.
            </p>
          </Notice>
        </>
      );
    }
    return (
      <>
        <CreditWarning credits={credits} />
        <WorkshopDashboard slug={slug} workshop={workshop} roomCode={findWorkshop(catalog, slug)?.room_code ?? true} onStatus={reload} />
      </>
    );
  }
  return (
    <>
      <PageTitle title="Organizer dashboard" />
      <CreditWarning credits={credits} />
      <WorkshopList workshops={workshops} />
    </>
  );
}
