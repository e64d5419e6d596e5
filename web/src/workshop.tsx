import { useEffect, useState } from "preact/hooks";
import { rememberKey, rememberProfile, useMyKey, useProfile, useSession } from "./account.js";
import { api, ApiError, errorMessage } from "./api.js";
import { discoverIssuer, signIn, type Session } from "./auth.js";
import type { SiteProps } from "./main.js";
import { STATE_LABEL, workshopState } from "./phase.js";
import { navigate } from "./router.js";
import { findWorkshop } from "./site-data.js";
import { captureRoomCode, forgetRoomCode, rememberRoomCode, ROOM_CODE_REFUSALS, RoomCodeForm } from "./room-code.js";
import { refreshStatus, useStatuses } from "./status.js";
import { formatDuration, formatRange, formatUsd, formatWhen, useNow } from "./time.js";
import type { CatalogModel, CatalogWorkshop, MyKey, Profile, WorkshopState, WorkshopStatus } from "./types.js";
import { Meter, Notice, PageTitle, Spinner } from "./ui.js";

/** /w/<slug>: what the workshop is, how many keys are left, and the one thing to do next. */

function SignInButton({ returnTo, label, secondary }: { returnTo: string; label: string; secondary?: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    // Fetch the issuer's metadata while the visitor reads, so the tap goes straight to sign-in.
    discoverIssuer().catch(() => undefined);
  }, []);
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
          const saved = await api<Profile>("/me", {
            method: "PUT",
            auth: true,
            body: { display_name: trimmed.slice(0, 80), marketing_opted_in: consent, workshop: slug },
          });
          rememberProfile(session, saved);
          onDone(saved);
        } catch (err) {
          setError(errorMessage(err));
          setBusy(false);
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
      <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
        {busy ? "Saving…" : claimAfter ? "Confirm and get my key" : "Save"}
      </button>
    </form>
  );
}

function ClaimButton({ slug, onClaimed, autoStart, needsCode }: { slug: string; onClaimed: (k: MyKey) => void; autoStart?: boolean; needsCode: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  // Workshops with a room code: the one from the QR code (kept across the sign-in), else asked for.
  const [code, setCode] = useState<string | null>(() => (needsCode ? captureRoomCode(slug) : null));
  const claim = async (withCode = code) => {
    setBusy(true);
    setError(null);
    try {
      const { key } = await api<{ key: MyKey }>(`/workshops/${slug}/claim`, { method: "POST", auth: true, body: needsCode && withCode ? { code: withCode } : {} });
      onClaimed(key);
    } catch (err) {
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
  const askForCode = needsCode && !code;
  useEffect(() => {
    if (autoStart && !askForCode) void claim();
  }, []);
  return (
    <>
      {askForCode ? (
        <RoomCodeForm
          busy={busy}
          onCode={(typed) => {
            rememberRoomCode(slug, typed);
            setCode(typed);
            void claim(typed);
          }}
        />
      ) : (
        <button type="button" class="btn btn-primary btn-block" disabled={busy} onClick={() => claim()}>
          {busy ? "Creating your key…" : "Get my API key"}
        </button>
      )}
      {error && (
        <Notice tone="error" title={error.status === 503 ? "OpenRouter is not answering right now." : undefined}>
          {error.message}
          {error.status === 503 && " Wait a few seconds and try again."}
        </Notice>
      )}
    </>
  );
}

function StateMessage({ w, state, now }: { w: CatalogWorkshop; state: WorkshopState; now: number }) {
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
          <p>Every key for this workshop is taken. Please talk to the organizers in the room.</p>
        </Notice>
      );
    case "closed":
      return (
        <Notice title="Claims are closed">
          <p>
            {Date.parse(w.claims_close_at) <= now
              ? `Claims closed ${formatWhen(w.claims_close_at)}.`
              : "This workshop is not handing out keys."}{" "}
            Already have a key? Sign in to see it until it expires.
          </p>
        </Notice>
      );
    default:
      return null;
  }
}

function ActionPanel({ w, status, state, now }: { w: CatalogWorkshop; status: WorkshopStatus | undefined; state: WorkshopState; now: number }) {
  const session = useSession();
  const profile = useProfile(session, w.slug);
  const myKey = useMyKey(session, w.slug);
  const [justConfirmed, setJustConfirmed] = useState(false);
  const returnTo = `/w/${w.slug}`;
  const keyPath = `/w/${w.slug}/key`;
  const open = state === "open";

  const onClaimed = (key: MyKey) => {
    if (session) rememberKey(session, key);
    navigate(keyPath);
  };

  let action;
  if (!session) {
    action = open ? (
      <SignInButton returnTo={returnTo} label="Sign in to get your key" />
    ) : state === "upcoming" ? (
      <SignInButton returnTo={returnTo} label="Sign in now to be ready" secondary />
    ) : (
      <SignInButton returnTo={keyPath} label="Sign in to see my key" secondary />
    );
  } else if (profile.loading || myKey.loading) {
    action = <Spinner label="Checking your account…" />;
  } else if (profile.error || myKey.error) {
    const err = profile.error ?? myKey.error;
    action = (
      <>
        <Notice tone="error">{err?.message}</Notice>
        <button type="button" class="btn btn-secondary" onClick={() => Promise.all([profile.reload(), myKey.reload()])}>
          Try again
        </button>
      </>
    );
  } else if (myKey.value && myKey.value.status !== "RELEASED") {
    action = (
      <>
        <p class="have-key">You have a key for this workshop.</p>
        <a class="btn btn-primary btn-block" href={keyPath}>
          See my key
        </a>
      </>
    );
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
          setJustConfirmed(true);
        }}
      />
    );
  } else if (open) {
    // Right after the confirm step the claim starts by itself: the button said "Confirm and get my key".
    action = <ClaimButton slug={w.slug} onClaimed={onClaimed} autoStart={justConfirmed} needsCode={w.room_code} />;
  } else if (state === "upcoming") {
    action = <p class="ready">You are signed in and ready. The button to get your key appears here when claims open.</p>;
  } else {
    action = <p class="muted">You have no key for this workshop.</p>;
  }

  return (
    <section class="card action" aria-labelledby="keys-left">
      <div class="keys-left-row">
        <p id="keys-left" class="keys-left" aria-live="polite">
          {status ? (
            <>
              <strong>{status.keys_left}</strong> of {status.capacity} {status.capacity === 1 ? "key" : "keys"} left
            </>
          ) : (
            <>{w.capacity} keys in total</>
          )}
        </p>
        <span class={`badge badge-${state}`}>{STATE_LABEL[state]}</span>
      </div>
      {status && <Meter value={status.keys_left} max={status.capacity} label="Keys left" />}
      <StateMessage w={w} state={state} now={now} />
      {action}
      <p class="fineprint">
        Each key can spend {formatUsd(w.budget_usd)} on the models below and stops working {formatWhen(w.key_expires_at)}.
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
