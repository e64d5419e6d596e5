import { useState } from "preact/hooks";
import { encode } from "uqr";
import { useSession } from "./account.js";
import type { ApiError } from "./api.js";
import { signIn } from "./auth.js";
import { PROJECTOR_LINK_REFUSALS, ProjectorRoomCode, useRoomCode } from "./room-code-display.js";
import type { SiteProps } from "./types.js";
import { workshopState } from "./phase.js";
import type { Route } from "./router.js";
import { useSessionEnded } from "./session-ended.js";
import { findWorkshop } from "./site-data.js";
import { useStatuses } from "./status.js";
import { formatDuration, formatWhen, useNow } from "./time.js";
import { PageTitle } from "./ui.js";

/**
 * /w/<slug>/projector: put on the room's screen. A QR code of the workshop page big enough to
 * scan from the back row, and the keys left, live. Loaded only on this route (it carries the QR
 * encoder).
 */

/** The QR code as one SVG path of dark modules: crisp at any size, no inline styles. */
function QrCode({ text, label }: { text: string; label: string }) {
  const qr = encode(text, { ecc: "M", border: 2 });
  let d = "";
  qr.data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) d += `M${x} ${y}h1v1h-1z`;
    }),
  );
  return (
    <svg class="qr" viewBox={`0 0 ${qr.size} ${qr.size}`} role="img" aria-label={label} shape-rendering="crispEdges">
      <rect width={qr.size} height={qr.size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

/** The workshop address as the room reads it: it may wrap only after a "/", never inside the slug. */
function ProjectorUrl({ url }: { url: string }) {
  const parts = url.replace(/^https?:\/\//, "").split("/");
  const longest = Math.max(...parts.map((p) => p.length + 1));
  return (
    // --chars lets the stylesheet shrink the type until the longest part fits on one line.
    <p class="projector-url" style={{ "--chars": String(longest) }} data-testid="projector-url">
      {parts.map((part, i) => (
        <span key={i} class="nowrap">
          {i > 0 ? "/" : ""}
          {part}
          {i < parts.length - 1 && <wbr />}
        </span>
      ))}
    </p>
  );
}

/** A QR code that only this computer can open says so, and how to rehearse for real phones. */
function LoopbackWarning({ slug }: { slug: string }) {
  if (!LOOPBACK.test(location.hostname)) return null;
  const port = location.port ? `:${location.port}` : "";
  return (
    <div class="projector-warning" role="note" data-testid="loopback-warning">
      <p>
        <strong>Phones cannot open this QR code:</strong> it points to {location.hostname}, which is this computer itself.
      </p>
      <p>
        To rehearse with the room's phones, start the stack with <code>npm start -- --host 0.0.0.0</code> and open this page at
        this computer's network address, for example <code>http://192.168.1.20{port}/w/{slug}/projector</code>.
      </p>
    </div>
  );
}

/**
 * In place of the QR code while a workshop with a room code cannot show it yet: the screen is opened
 * by an organizer, who signs in here (the code is theirs to show, never the public's).
 */
function RoomCodeGate({ slug, signedIn, error }: { slug: string; signedIn: boolean; error: ApiError | null }) {
  const ended = useSessionEnded();
  let body;
  if (error && PROJECTOR_LINK_REFUSALS.has(error.code)) {
    body = <p>{error.message}</p>;
  } else if (!signedIn || error?.status === 401) {
    body = (
      <>
        <p>This workshop's keys need the room code. Sign in as an organizer to show it here with its QR code.</p>
        {/* After a session ended, the notice above has the one sign-in button. */}
        {!ended && (
          <button type="button" class="btn btn-primary" onClick={() => void signIn(`/w/${slug}/projector`)}>
            Sign in to show the room code
          </button>
        )}
      </>
    );
  } else if (error?.status === 403) {
    body = <p>Only this workshop's organizers can show its room code. Sign in with the email listed in the workshop file.</p>;
  } else if (error) {
    body = <p>The room code could not be loaded: {error.message} Trying again…</p>;
  } else {
    body = <p>Loading the room code…</p>;
  }
  return (
    <div class="projector-gate" role="status">
      {body}
    </div>
  );
}

export function ProjectorPage({ catalog, route }: SiteProps & { route: Route }) {
  const slug = route.page === "projector" ? route.slug : "";
  const w = findWorkshop(catalog, slug);
  const { bySlug } = useStatuses();
  const now = useNow(1000);
  const session = useSession();
  const status = bySlug.get(slug);
  const state = w ? workshopState(w, status, now) : "closed";
  // Once claims are closed a room code admits nobody: it is neither asked for nor shown.
  const needsCode = w?.room_code === true && state !== "closed";
  // A projector link from the dashboard (`?link=`) reads the code without anyone signing in here.
  const [link] = useState(() => new URL(location.href).searchParams.get("link"));
  const room = useRoomCode(slug, needsCode && (session !== null || link !== null), link);
  if (!w) {
    return (
      <div class="projector">
        <PageTitle title="Workshop not found" />
      </div>
    );
  }
  const url = `${location.origin}/w/${slug}`;
  // With a room code, the QR code carries it: scanning is all an attendee does.
  const code = needsCode && !room.view?.closed ? room.view?.code : undefined;
  const gated = needsCode && !code;
  const qrUrl = code ? `${url}?code=${code}` : url;
  const headline =
    state === "upcoming"
      ? `Keys available in ${formatDuration(Date.parse(w.claims_open_at) - now)}`
      : state === "paused"
        ? "Claims are paused for a moment"
        : state === "sold_out"
          ? "All keys have been claimed"
          : state === "closed"
            ? "Claims are closed"
            : gated
              ? "Waiting for the room code"
              : "Scan to get your API key";
  return (
    <div class="projector">
      {gated ? (
        <RoomCodeGate slug={slug} signedIn={session !== null || link !== null} error={room.error} />
      ) : (
        <div class="projector-qr">
          <QrCode text={qrUrl} label={`QR code for ${qrUrl}`} />
        </div>
      )}
      <div class="projector-info">
        <p class="projector-event">{w.event}</p>
        <PageTitle title={w.name} />
        <p class="projector-headline">{headline}</p>
        <ProjectorUrl url={url} />
        {code && room.view && <ProjectorRoomCode view={room.view} />}
        <div class="projector-counts" aria-live="polite" data-live={status ? "yes" : "no"}>
          {/* Once claims are closed or every key is out, "keys left" would invite people to try. */}
          {state === "closed" && !status ? null : state === "closed" || state === "sold_out" ? (
            <p>
              <span class="projector-number" data-testid="keys-claimed">
                {status ? status.claimed : "–"}
              </span>
              <span class="projector-unit">{status?.claimed === 1 ? "key" : "keys"} handed out</span>
            </p>
          ) : (
            <>
              <p>
                <span class="projector-number" data-testid="keys-left">
                  {status ? status.keys_left : "–"}
                </span>
                <span class="projector-unit">keys left</span>
              </p>
              <p>
                <span class="projector-number projector-number-small" data-testid="keys-claimed">
                  {status ? status.claimed : "–"}
                </span>
                <span class="projector-unit">claimed of {status ? status.capacity : w.capacity}</span>
              </p>
            </>
          )}
        </div>
        {state === "upcoming" && <p class="projector-when">Opens {formatWhen(w.claims_open_at)}</p>}
        <LoopbackWarning slug={slug} />
      </div>
    </div>
  );
}
