import { useEffect, useState } from "preact/hooks";
import { rememberKey, rememberProfile, useMyKey, useProfile, useSession } from "./account.js";
import { apiPatiently, ApiError, errorMessage } from "./api.js";
import { discoverIssuer, signIn, type Session } from "./auth.js";
import { useBusyWait } from "./busy-wait.js";
import { STATE_LABEL, workshopState } from "./phase.js";
import { navigate } from "./router.js";
import { findWorkshop } from "./site-data.js";
import { captureRoomCode, forgetRoomCode, rememberRoomCode, ROOM_CODE_REFUSALS, RoomCodeForm } from "./room-code.js";
import { useSessionEnded } from "./session-ended.js";
import { refreshStatus, useStatuses } from "./status.js";
import { formatDuration, formatRange, formatUsd, formatWhen, realMsUntil, useNow } from "./time.js";
import type { CatalogModel, CatalogWorkshop, MyKey, Profile, SiteProps, WorkshopState, WorkshopStatus } from "./types.js";
import { Meter, Notice, PageTitle, Spinner } from "./ui.js";

/** /w/<slug>: what the workshop is, how many keys are left, and the one thing to do next. */

function SignInButton({ returnTo, label, secondary }: { returnTo: string; label: string; secondary?: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ended = useSessionEnded();
  useEffect(() => {
    // Fetch the issuer's metadata while the visitor reads, so the tap goes straight to sign-in.
    discoverIssuer().catch(() => undefined);
  }, []);
  if (ended) return null; // the "session ended" notice's button signs in, back to this page
  return (
    <>
      <button
        type="button"
        class={secondary ? "btn btn-secondary" : "btn btn-primary btn-block"}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            await signIn(returnTo);
          } catch (err) {
            setError(errorMessage(err));
            setBusy(false);
          }
        }}
      >
        {busy ? "Opening sign-in…" : label}
      </button>
      {error && <Notice tone="error">{error}</Notice>}
    </>
  );
}

function ConfirmForm({
  session,
  profile,
  slug,
  claimAfter,
  onDone,
}: {
  session: Session;
  profile: Profile;
  slug: string;
  claimAfter: boolean;
  onDone: (p: Profile) => void;
}) {
  const [name, setName] = useState(profile.display_name || session.name || "");
  const [consent, setConsent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const wait = useBusyWait();
  const trimmed = name.trim();
  return (
    <form
      class="confirm"
      onSubmit={async (e) => {
        e.preventDefault();
        if (!trimmed) {
          setError("Please enter the name you want the organizers to see.");
          return;
        }
        setBusy(true);
        setError(null);
        try {
          // A PUT of the same details: saying it twice is saying it once, so a busy API is asked again.
          const saved = await apiPatiently<Profile>(
            "/me",
            { method: "PUT", auth: true, body: { display_name: trimmed.slice(0, 80), marketing_opted_in: consent, workshop: slug } },
            wait.hooks,
          );
          rememberProfile(session, saved);
          onDone(saved);
        } catch (err) {
          setError(errorMessage(err));
          setBusy(false);
        } finally {
          wait.done();
        }
      }}
    >
      <h2 class="h3">Confirm your details</h2>
      <p class="field-static">
        <span class="field-label">Signed in as</span>
        <strong class="break">{profile.email || session.email}</strong>
      </p>
      <label class="field" for="display-name">
        <span class="field-label">Your name</span>
        <span class="field-hint" id="display-name-hint">
          Shown to the workshop organizers next to your key.
        </span>
        <input
          id="display-name"
          name="display_name"
          type="text"
          autoComplete="name"
          maxLength={80}
          required
          aria-describedby="display-name-hint"
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="check" for="marketing">
        <input
          id="marketing"
          name="marketing_opted_in"
          type="checkbox"
          checked={consent}
          onChange={(e) => setConsent((e.target as HTMLInputElement).checked)}
        />
        <span>
          Yes, the organizers may email me about future workshops and events. <span class="muted">Optional — leave it unticked and
          your email is used only for this key.</span>
        </span>
      </label>
      {error && <Notice tone="error">{error}</Notice>}
      {wait.queued && (
        <p class="ready" role="status">
          {wait.queued}
        </p>
      )}
      <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
        {busy ? (wait.queued ? "Waiting in the queue…" : "Saving…") : claimAfter ? "Confirm and get my key" : "Save"}
      </button>
    </form>
  );
}

/**
 * Claims the key: on a click, or (after the attendee's explicit choice) by itself after `autoAfterMs`.
 * Workshops with a room code: the one from the QR code (kept across the sign-in), else asked for.
 */
function ClaimButton({
  slug,
  onClaimed,
  autoStart,
  autoAfterMs,
  onCancelAuto,
  needsCode,
}: {
  slug: string;
  onClaimed: (k: MyKey) => void;
  autoStart?: boolean;
  autoAfterMs?: number;
  onCancelAuto?: () => void;
  needsCode: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [code, setCode] = useState<string | null>(() => (needsCode ? captureRoomCode(slug) : null));
  // What the attendee typed: kept through a refusal, so a typo is corrected, not typed again.
  const [typed, setTyped] = useState<string | null>(null);
  const [autoAt, setAutoAt] = useState(() => (autoAfterMs === undefined ? null : Date.now() + autoAfterMs));
  useNow(autoAt === null ? 60_000 : 250); // re-renders the countdown to the automatic claim
  const wait = useBusyWait();
  const claim = async (withCode = code) => {
    setAutoAt(null);
    setBusy(true);
    setError(null);
    try {
      // A repeated claim answers the same claim, never a second key: a busy API is asked again.
      const { key } = await apiPatiently<{ key: MyKey }>(
        `/workshops/${slug}/claim`,
        { method: "POST", auth: true, body: needsCode && withCode ? { code: withCode } : {} },
        wait.hooks,
      );
      wait.done();
      onClaimed(key);
    } catch (err) {
      wait.done();
      const failure = err instanceof ApiError ? err : new ApiError(errorMessage(err), 0, "unknown");
      if (ROOM_CODE_REFUSALS.has(failure.code)) {
        forgetRoomCode(slug);
        setCode(null);
      }
      setError(failure);
      setBusy(false);
      void refreshStatus();
    }
  };
  const askForCode = needsCode && (!code || typed !== null);
  const codeRefused = error && ROOM_CODE_REFUSALS.has(error.code) ? (error.status === 429 ? `Too many tries: please wait. ${error.message}` : error.message) : null;
  useEffect(() => {
    if (autoStart && !askForCode) void claim();
  }, []);
  useEffect(() => {
    if (autoAt === null || askForCode) return;
    const id = setTimeout(() => void claim(), Math.max(0, autoAt - Date.now()));
    return () => clearTimeout(id);
  }, [autoAt, askForCode]);
  const waitS = autoAt === null || askForCode ? null : Math.max(0, Math.ceil((autoAt - Date.now()) / 1000));
  return (
    <>
      {wait.queued && (
        <p class="ready" role="status">
          {wait.queued}
        </p>
      )}
      {askForCode ? (
        <RoomCodeForm
          busy={busy}
          value={typed ?? ""}
          onChange={setTyped}
          error={codeRefused}
          onCode={(entered) => {
            rememberRoomCode(slug, entered);
            setCode(entered);
            void claim(entered);
          }}
        />
      ) : (
        <>
          {waitS !== null && (
            <p class="ready" role="status">
              Claims are open: getting your key for you {waitS > 0 ? `in ${waitS} s` : "now"}, as you asked.{" "}
              <button
                type="button"
                class="btn-link"
                onClick={() => {
                  setAutoAt(null);
                  onCancelAuto?.();
                }}
              >
                Cancel
              </button>
            </p>
          )}
          <button type="button" class="btn btn-primary btn-block" disabled={busy} onClick={() => claim()}>
            {busy ? (wait.queued ? "Waiting in the queue…" : "Creating your key…") : waitS !== null ? "Get my API key now" : "Get my API key"}
          </button>
        </>
      )}
      {error && !codeRefused && (
        <Notice
          tone="error"
          title={
            error.busy && error.status === 429
              ? "The server is full right now."
              : error.status === 503
                ? "OpenRouter is not answering right now."
                : error.status === 429
                  ? "Too many tries: please wait."
                  : undefined
          }
        >
          {error.message}
          {error.status === 503 && " Wait a few seconds and try again."}
        </Notice>
      )}
    </>
  );
}

const AUTO_CLAIM_KEY = (slug: string) => `wkm.auto-claim.${slug}`;
/** Waiting tabs spread their claims over this many milliseconds after claims open. */
export const AUTO_CLAIM_SPREAD_MS = 5_000;

/** The attendee's explicit choice to have this tab claim their key when claims open (off by default). */
function useAutoClaim(slug: string): [boolean, (on: boolean) => void] {
  const [on, setOn] = useState(() => sessionStorage.getItem(AUTO_CLAIM_KEY(slug)) === "1");
  return [
    on,
    (next) => {
      if (next) sessionStorage.setItem(AUTO_CLAIM_KEY(slug), "1");
      else sessionStorage.removeItem(AUTO_CLAIM_KEY(slug));
      setOn(next);
    },
  ];
}

function AutoClaimChoice({ on, onChange }: { on: boolean; onChange: (on: boolean) => void }) {
  return (
    <>
      <p class="ready">You are signed in and ready. The button to get your key appears here when claims open.</p>
      <label class="check" for="auto-claim">
        <input id="auto-claim" type="checkbox" checked={on} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />
        <span>
          Claim my key for me when claims open.{" "}
          <span class="muted">Keep this tab open: it claims within a few seconds of the opening, and you get your key here.</span>
        </span>
      </label>
    </>
  );
}

/** Who is looking, for the messages that depend on it. */
type Visitor = "anonymous" | "no-key" | "has-key";

function StateMessage({ w, state, now, visitor }: { w: CatalogWorkshop; state: WorkshopState; now: number; visitor: Visitor }) {
  // Someone holding a key needs none of this: pauses and sold-out rooms do not touch their key.
  if (visitor === "has-key") return null;
  switch (state) {
    case "upcoming":
      return (
        <Notice title={`Claims open in ${formatDuration(Date.parse(w.claims_open_at) - now)}`}>
          <p>Keys become available {formatWhen(w.claims_open_at)}. This page updates by itself.</p>
        </Notice>
      );
    case "paused":
      return (
        <Notice tone="warn" title="Claims are paused">
          <p>The organizers paused key claims for a moment. Keep this page open: it updates by itself when they resume.</p>
        </Notice>
      );
    case "sold_out":
      return (
        <Notice tone="warn" title="All keys have been claimed">
          <p>
            Every key for this workshop is taken{visitor === "no-key" ? ", and this account has none" : ""}. Please talk to the
            organizers in the room.
          </p>
        </Notice>
      );
    case "closed":
      return (
        <Notice title="Claims are closed">
          <p>
            {Date.parse(w.claims_close_at) <= now
              ? `Claims closed ${formatWhen(w.claims_close_at)}.`
              : "This workshop is not handing out keys."}{" "}
            {visitor === "no-key"
              ? "This account has no key for this workshop; if you claimed one with another account, sign out and sign in with that one."
              : "Already have a key? Sign in to see it until it expires."}
          </p>
        </Notice>
      );
    default:
      return null;
  }
}

/** A key that no longer works, said plainly on the workshop page too. */
function EndedKeyNotice({ k, keyPath }: { k: MyKey; keyPath: string }) {
  return (
    <>
      {k.status === "REVOKED" ? (
        <Notice tone="error" title="An organizer turned your key off.">
          <p>It no longer works. Ask an organizer if you think this is a mistake.</p>
        </Notice>
      ) : (
        <Notice tone="warn" title="Your key has expired.">
          <p>It expired {formatWhen(k.expires_at)} (the workshop is over) and no longer works.</p>
        </Notice>
      )}
      <a class="btn btn-secondary btn-block" href={keyPath}>
        Details
      </a>
    </>
  );
}

function ActionPanel({ w, status, state, now }: { w: CatalogWorkshop; status: WorkshopStatus | undefined; state: WorkshopState; now: number }) {
  const session = useSession();
  const profile = useProfile(session, w.slug);
  const myKey = useMyKey(session, w.slug);
  const [justConfirmed, setJustConfirmed] = useState(false);
  const [autoClaim, setAutoClaim] = useAutoClaim(w.slug);
  // Chosen once per page: this tab's moment within the spread after claims open.
  const [autoDelayMs] = useState(() => Math.floor(Math.random() * AUTO_CLAIM_SPREAD_MS));
  const returnTo = `/w/${w.slug}`;
  const keyPath = `/w/${w.slug}/key`;
  const open = state === "open";

  useEffect(() => {
    if (state !== "upcoming") return;
    // Ask for the live status the moment claims should open (spread over a second), not at the next poll.
    const id = setTimeout(() => void refreshStatus(), realMsUntil(Date.parse(w.claims_open_at)) + Math.random() * 1000);
    return () => clearTimeout(id);
  }, [state, w.claims_open_at]);

  const onClaimed = (key: MyKey) => {
    if (session) rememberKey(session, key);
    if (autoClaim) setAutoClaim(false);
    navigate(keyPath);
  };

  const k = myKey.value;
  const ended = k && (k.status === "REVOKED" || k.status === "EXPIRED" || (k.status !== "RELEASED" && Date.parse(k.expires_at) <= now));
  const holdsKey = Boolean(k && k.status !== "RELEASED");
  const visitor: Visitor = !session ? "anonymous" : holdsKey ? "has-key" : myKey.loading ? "anonymous" : "no-key";

  let action;
  if (!session) {
    action = open ? (
      <SignInButton returnTo={returnTo} label="Sign in to get your key" />
    ) : state === "upcoming" || state === "paused" ? (
      <SignInButton returnTo={returnTo} label="Sign in now to be ready" secondary />
    ) : (
      <SignInButton returnTo={keyPath} label="Sign in to see my key" secondary />
    );
  } else if (profile.loading || myKey.loading) {
    action = <Spinner label={profile.queued ?? myKey.queued ?? "Checking your account…"} />;
  } else if (profile.error || myKey.error) {
    const err = profile.error ?? myKey.error;
    action =
      err?.code === "network" ? (
        <Spinner label="Waiting for the server…" />
      ) : (
        <>
          <Notice tone="error">{err?.message}</Notice>
          <button type="button" class="btn btn-secondary" onClick={() => Promise.all([profile.reload(), myKey.reload()])}>
            Try again
          </button>
        </>
      );
  } else if (k && ended) {
    action = <EndedKeyNotice k={k} keyPath={keyPath} />;
  } else if (k && holdsKey) {
    action = (
      <>
        <p class="have-key">You have a key for this workshop.</p>
        <a class="btn btn-primary btn-block" href={keyPath}>
          See my key
        </a>
      </>
    );
  } else if (state === "closed" || state === "sold_out") {
    // Nothing to claim here: no confirm step either. The state message says what is left to do.
    action = null;
  } else if (profile.value && (!profile.value.confirmed || profile.value.consent?.decided === false)) {
    // Consent is asked per workshop: someone confirmed for another workshop answers again here.
    action = (
      <ConfirmForm
        session={session}
        profile={profile.value}
        slug={w.slug}
        claimAfter={open}
        onDone={(p) => {
          profile.set(p);
          // Only a "Confirm and get my key" click claims; confirming before claims open does not.
          setJustConfirmed(open);
        }}
      />
    );
  } else if (open) {
    // Right after the confirm step the claim starts by itself: the button said "Confirm and get my key".
    action = (
      <ClaimButton
        slug={w.slug}
        onClaimed={onClaimed}
        autoStart={justConfirmed}
        autoAfterMs={!justConfirmed && autoClaim ? autoDelayMs : undefined}
        onCancelAuto={() => setAutoClaim(false)}
        needsCode={w.room_code}
      />
    );
  } else if (state === "upcoming") {
    action = <AutoClaimChoice on={autoClaim} onChange={setAutoClaim} />;
  } else {
    action = null;
  }

  return (
    <section class="card action" aria-labelledby="keys-left">
      <div class="keys-left-row">
        <p id="keys-left" class="keys-left" aria-live="polite">
          {status && state === "closed" ? (
            <>
              <strong>{status.claimed}</strong> {status.claimed === 1 ? "key was" : "keys were"} handed out
            </>
          ) : status ? (
            <>
              <strong>{status.keys_left}</strong> of {status.capacity} {status.capacity === 1 ? "key" : "keys"} left
            </>
          ) : (
            <>{w.capacity} keys in total</>
          )}
        </p>
        <span class={`badge badge-${state}`}>{STATE_LABEL[state]}</span>
      </div>
      {status && state !== "closed" && <Meter value={status.keys_left} max={status.capacity} label="Keys left" />}
      <StateMessage w={w} state={state} now={now} visitor={visitor} />
      {action}
      <p class="fineprint">
        {Date.parse(w.key_expires_at) > now
          ? `Each key can spend ${formatUsd(w.budget_usd)} on the models below and stops working ${formatWhen(w.key_expires_at)}.`
          : `Each key could spend ${formatUsd(w.budget_usd)} on the models below; the keys stopped working ${formatWhen(w.key_expires_at)}.`}
      </p>
    </section>
  );
}

function price(p: number | undefined): string {
  return p === undefined ? "—" : `$${p.toFixed(2)}`;
}

export function ModelsTable({ models }: { models: CatalogModel[] }) {
  return (
    <div class="table-wrap">
      <table class="models">
        <caption>Models your key can use. Prices in US dollars per million tokens.</caption>
        <thead>
          <tr>
            <th scope="col">Model</th>
            <th scope="col" class="num">
              Input
            </th>
            <th scope="col" class="num">
              Output
            </th>
          </tr>
        </thead>
        <tbody>
          {models.map((m) => (
            <tr key={m.id}>
              <th scope="row">
                <span class="model-label">{m.label}</span>
                <code class="model-id">{m.id}</code>
                {m.note && <span class="model-note">{m.note}</span>}
              </th>
              <td class="num">{price(m.price_in_per_mtok)}</td>
              <td class="num">{price(m.price_out_per_mtok)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function WorkshopPage({ catalog, slug }: SiteProps & { slug: string }) {
  const w = findWorkshop(catalog, slug);
  const { bySlug, error } = useStatuses();
  const now = useNow(1000);
  // The QR code's `?code=` is kept for this tab at once: the sign-in that may come next drops the query.
  useEffect(() => void captureRoomCode(slug), [slug]);
  if (!w) {
    return (
      <>
        <PageTitle title="Workshop not found" />
        <p>
          There is no workshop at this address. Check the link, or <a href="/">see all workshops</a>.
        </p>
      </>
    );
  }
  const status = bySlug.get(slug);
  const state = workshopState(w, status, now);
  return (
    <article class="workshop">
      <p class="eyebrow">{w.event}</p>
      <PageTitle title={w.name} />
      <dl class="facts">
        <div>
          <dt>When</dt>
          <dd>{formatRange(w.starts_at, w.ends_at)}</dd>
        </div>
        <div>
          <dt>Where</dt>
          <dd>{w.location}</dd>
        </div>
      </dl>
      {error && <p class="muted small">{error}</p>}
      <ActionPanel w={w} status={status} state={state} now={now} />
      {w.welcome_html && (
        // Rendered at build time by markdown-it with raw HTML escaped and links checked (web/catalog.ts).
        <section class="welcome prose" dangerouslySetInnerHTML={{ __html: w.welcome_html }} />
      )}
      <section aria-labelledby="models-heading">
        <h2 id="models-heading">Models</h2>
        <ModelsTable models={w.models} />
      </section>
    </article>
  );
}
