import { useEffect, useState } from "preact/hooks";
import { api, ApiError, errorMessage } from "./api.js";
import { formatDuration, formatWhen, realMsUntil, syncServerClock, useNow } from "./time.js";
import { CodeBlock, Notice } from "./ui.js";

/**
 * The room code on the organizers' side: the projector shows it (and its QR code), the dashboard
 * shows it too. Only the organizers' API route answers with it. It is read again just after each
 * change, on the server's clock (a rehearsal may run the clock elsewhere).
 */

export interface RoomCodeView {
  enabled: boolean;
  /** Claims are closed: there is no code any more, and none will come. */
  closed?: boolean;
  code?: string;
  rotate_minutes?: number;
  grace_minutes?: number;
  valid_from?: string;
  rotates_at?: string;
  now?: string;
  /** `/w/<slug>?code=<code>`: what the QR code opens. */
  claim_path?: string;
}

// Read again at least this often, so a clock that drifts or a changed workshop file shows up.
const MAX_WAIT_MS = 30_000;

/** The API's refusals of a projector link: asking again would not change them. */
export const PROJECTOR_LINK_REFUSALS = new Set(["projector_link_invalid", "projector_link_expired"]);

/**
 * The room code, read by a signed-in organizer, or with `link` (a projector link from the
 * dashboard) by a screen nobody signed in on.
 */
export function useRoomCode(slug: string, enabled: boolean, link: string | null = null): { view: RoomCodeView | null; error: ApiError | null } {
  const [view, setView] = useState<RoomCodeView | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      let wait = MAX_WAIT_MS;
      try {
        const next = link
          ? await api<RoomCodeView>(`/workshops/${slug}/projector?link=${encodeURIComponent(link)}`)
          : await api<RoomCodeView>(`/admin/workshops/${slug}/room-code`, { auth: true });
        if (stopped) return;
        syncServerClock(next.now);
        setView(next);
        setError(null);
        // Half a second past the change, so the answer is the new code (in real time: a rehearsal
        // clock may run faster than this one).
        if (next.enabled && next.rotates_at) wait = realMsUntil(Date.parse(next.rotates_at)) + 500;
        // Closed for good (or no room code at all): nothing will change, so nothing to ask again.
        if (!next.enabled || next.closed) return;
      } catch (err) {
        if (stopped) return;
        const failure = err instanceof ApiError ? err : new ApiError(errorMessage(err), 0, "unknown");
        setError(failure);
        setView(null);
        if (PROJECTOR_LINK_REFUSALS.has(failure.code)) return; // an expired or changed link stays so
        wait = 10_000;
      }
      timer = setTimeout(() => void load(), Math.min(Math.max(wait, 500), MAX_WAIT_MS));
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [slug, enabled, link]);
  return { view, error };
}

/** "K7P 4QX": two groups of three read more easily off a screen. */
export function formatRoomCode(code: string): string {
  return code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
}

function ChangesIn({ view }: { view: RoomCodeView }) {
  const now = useNow(1000);
  if (!view.rotates_at) return null;
  return <>changes in {formatDuration(Date.parse(view.rotates_at) - now)}</>;
}

/**
 * The organizer dashboard's room-code box; nothing for a workshop without `claim_code`. Once claims
 * are closed it is neither asked for nor shown (the API answers `closed` too).
 */
export function RoomCodePanel({ slug, claimsClosed }: { slug: string; claimsClosed: boolean }) {
  const { view, error } = useRoomCode(slug, !claimsClosed);
  if (error && !view && !claimsClosed) return <Notice tone="error">The room code could not be loaded: {error.message}</Notice>;
  if (claimsClosed || (view?.enabled && view.closed)) {
    return (
      <p class="small muted room-code-closed" data-testid="room-code-closed">
        Claims are closed, so there is no room code any more.
      </p>
    );
  }
  if (!view?.enabled || !view.code) return null;
  return (
    <section class="room-code-panel" aria-labelledby="room-code-heading">
      <h2 id="room-code-heading" class="h3">
        Room code
      </h2>
      <p class="room-code" data-testid="room-code">
        {formatRoomCode(view.code)}
      </p>
      <p class="small muted">
        Attendees need it to claim a key. It <ChangesIn view={view} />; the previous code still works for {view.grace_minutes} min. The{" "}
        <a href={`/w/${slug}/projector`} target="_blank" rel="noopener">
          projector view
        </a>{" "}
        shows it with a QR code that carries it.
      </p>
      <ProjectorLink slug={slug} />
    </section>
  );
}

/**
 * A read-only, expiring link for the room's screen: it shows the code, the QR code and the counter
 * without an organizer signing in on that computer, and can do nothing else.
 */
function ProjectorLink({ slug }: { slug: string }) {
  const [made, setMade] = useState<{ url: string; expires_at: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const make = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const link = await api<{ path: string; expires_at: string }>(`/admin/workshops/${slug}/projector-link`, { method: "POST", auth: true, body: {} });
      setMade({ url: new URL(link.path, location.origin).href, expires_at: link.expires_at });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="projector-link">
      <button type="button" class="btn btn-small btn-secondary" aria-disabled={busy} onClick={make}>
        {busy ? "Making the link…" : made ? "Make a new projector link" : "Projector link for the room's screen"}
      </button>
      <div aria-live="polite">
        {made && (
          <>
            <p class="small">
              Open this on the room's screen: it shows the code, its QR code and the counter without signing in there, and can do
              nothing else. It works until {formatWhen(made.expires_at)}.
            </p>
            <CodeBlock title="Projector link" code={made.url} copyLabel="Copy the projector link" testId="projector-link" />
          </>
        )}
        {error && <Notice tone="error">{error}</Notice>}
      </div>
    </div>
  );
}

/** The projector's line under the QR code. */
export function ProjectorRoomCode({ view }: { view: RoomCodeView }) {
  if (!view.code) return null;
  return (
    <p class="projector-code">
      <span class="projector-unit">Room code</span>
      <span class="projector-code-value" data-testid="room-code">
        {formatRoomCode(view.code)}
      </span>
      <span class="projector-unit">
        <ChangesIn view={view} />
      </span>
    </p>
  );
}
