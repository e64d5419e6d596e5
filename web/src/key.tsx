import { useEffect, useState } from "preact/hooks";
import { useMyKey, useSession } from "./account.js";
import { api, ApiError, errorMessage } from "./api.js";
import { signIn } from "./auth.js";
import { explainInferenceError, inferenceErrorHelp } from "./inference-errors.js";
import { workshopState } from "./phase.js";
import { findWorkshop } from "./site-data.js";
import { codeSnippet, envSnippet, SHELL_CALL_LABEL, SNIPPET_LANGUAGES, type Shell, type SnippetLanguage } from "./snippets.js";
import { useSessionEnded } from "./session-ended.js";
import { useStatuses } from "./status.js";
import { formatAgo, formatDuration, formatUsd, formatWhen, serverNow, useNow } from "./time.js";
import type { CatalogModel, CatalogWorkshop, ClaimStatus, MyKey, SiteProps, WorkshopState } from "./types.js";
import { CodeBlock, CopyButton, Meter, Notice, PageTitle, Spinner } from "./ui.js";

/** /w/<slug>/key: the attendee's key, what is left of it, and code to use it right away. */

const KEY_REFRESH_MS = 30_000;

export function maskKey(key: string): string {
  const prefix = key.startsWith("sk-or-v1-") ? "sk-or-v1-" : key.slice(0, 3);
  return `${prefix}${"•".repeat(12)}${key.slice(-4)}`;
}

// Keys still being set up; revoked and expired keys have their own pages below.
const STATUS_NOTICE: Partial<Record<ClaimStatus, { tone: "info" | "warn" | "error"; title: string; text: string }>> = {
  UNBOUND: {
    tone: "info",
    title: "Your key works.",
    text: "We are still attaching the workshop's model list to it; nothing to do on your side.",
  },
  MINTED: { tone: "info", title: "Almost ready.", text: "Your key is being set up. This page updates by itself." },
  RESERVED: { tone: "info", title: "Almost ready.", text: "Your key is being created. This page updates by itself." },
  RELEASED: { tone: "error", title: "No key was created.", text: "Creating your key failed. Go back to the workshop page and try again." },
};

export function KeyBox({ secret }: { secret: string }) {
  const [revealed, setRevealed] = useState(false);
  return (
    <div class="keybox">
      <code class="keybox-value" id="api-key" aria-label={revealed ? "Your API key" : "Your API key, hidden"}>
        {revealed ? secret : maskKey(secret)}
      </code>
      <div class="keybox-actions">
        <button type="button" class="btn btn-small" aria-pressed={revealed} aria-controls="api-key" onClick={() => setRevealed(!revealed)}>
          {revealed ? "Hide" : "Show"}
        </button>
        <CopyButton text={secret} label="Copy API key" class="btn btn-small btn-primary" />
      </div>
    </div>
  );
}

/** The owner's key with its usage read live from OpenRouter (the API allows it every 30 s); null: no key. */
function fetchLiveKey(slug: string): Promise<MyKey | null> {
  return api<MyKey | null>(`/workshops/${slug}/key?usage=live`, { auth: true });
}

function Budget({ k, onChecked }: { k: MyKey; onChecked: (k: MyKey | null) => void }) {
  const left = k.limit_remaining ?? Math.max(0, k.budget_usd - k.usage_usd);
  const used = Math.max(0, k.budget_usd - left, k.usage_usd);
  const now = useNow(15_000);
  const [checking, setChecking] = useState(false);
  // Why the last "Check now" failed (null: it did not); the figures then are the older ones.
  const [failed, setFailed] = useState<string | null>(null);
  const check = async () => {
    setChecking(true);
    setFailed(null);
    try {
      onChecked(await fetchLiveKey(k.slug));
    } catch (err) {
      // An unreachable server is also said by the banner at the top of the page.
      setFailed(err instanceof ApiError && err.code === "network" ? "the server cannot be reached" : errorMessage(err).replace(/\.$/, ""));
    } finally {
      setChecking(false);
    }
  };
  const read = k.usage_synced_at ? formatAgo(now - Date.parse(k.usage_synced_at)) : null;
  return (
    <section class="card" aria-labelledby="budget-heading">
      <h2 id="budget-heading" class="h3">
        Budget
      </h2>
      <p class="budget-figures">
        <span>
          <strong>{formatUsd(left)}</strong> left
        </span>
        <span class="muted">
          {formatUsd(used)} used of {formatUsd(k.budget_usd)}
        </span>
      </p>
      <Meter value={used} max={k.budget_usd} label="Budget used" />
      <p class="fineprint budget-checked">
        <span data-testid="usage-checked" aria-live="polite">
          {failed !== null
            ? `Usage could not be checked: ${failed}. ${read ? `These figures were read ${read}.` : "These figures were never checked."}`
            : read
              ? `Usage checked ${read}.`
              : "Usage not checked yet."}
        </span>{" "}
        <button type="button" class="btn-link" aria-disabled={checking} onClick={() => !checking && void check()}>
          {checking ? "Checking…" : "Check now"}
        </button>
      </p>
    </section>
  );
}

function Expiry({ expiresAt }: { expiresAt: string }) {
  const now = useNow(1000);
  const left = Date.parse(expiresAt) - now;
  return (
    <p class="expiry">
      {left > 0 ? (
        <>
          Works until {formatWhen(expiresAt)} · <strong>{formatDuration(left)}</strong> left
        </>
      ) : (
        <>Expired {formatWhen(expiresAt)}</>
      )}
    </p>
  );
}

/** A choice among a few options, as one row of radio buttons. */
function Segmented<T extends string>({ legend, name, options, value, onChange }: { legend: string; name: string; options: { id: T; label: string }[]; value: T; onChange: (v: T) => void }) {
  return (
    <fieldset class="segmented">
      <legend class="field-label">{legend}</legend>
      {options.map((o) => (
        <label key={o.id} class={o.id === value ? "selected" : undefined}>
          <input type="radio" name={name} value={o.id} checked={o.id === value} onChange={() => onChange(o.id)} />
          {o.label}
        </label>
      ))}
    </fieldset>
  );
}

const SHELLS: { id: Shell; label: string }[] = [
  { id: "posix", label: "macOS / Linux" },
  { id: "powershell", label: "Windows (PowerShell)" },
];

export function UseIt({ k }: { k: MyKey }) {
  const [shell, setShell] = useState<Shell>("posix");
  const [language, setLanguage] = useState<SnippetLanguage>("python");
  const [model, setModel] = useState(k.models[0]?.id ?? "");
  const languages = SNIPPET_LANGUAGES.map((l) => (l.id === "curl" ? { ...l, label: SHELL_CALL_LABEL[shell] } : l));
  const lang = languages.find((l) => l.id === language) ?? languages[0];
  const code = codeSnippet(language, k.base_url, model, shell);
  const secret = k.key ?? "";
  const shellLabel = SHELLS.find((s) => s.id === shell)!.label;
  return (
    <section class="card" aria-labelledby="use-heading">
      <h2 id="use-heading" class="h3">
        Use it
      </h2>
      <Segmented legend="Your terminal" name="snippet-shell" options={SHELLS} value={shell} onChange={setShell} />
      <p class="step">
        <span class="step-n" aria-hidden="true">1</span> Put the key in your terminal's environment:
      </p>
      <CodeBlock
        title={shellLabel}
        code={envSnippet(maskKey(secret), shell)}
        copyText={envSnippet(secret, shell)}
        copyLabel={`Copy the ${shell === "posix" ? "export" : "PowerShell"} command with your key`}
        testId="env-snippet"
      />
      <p class="step">
        <span class="step-n" aria-hidden="true">2</span> Call a model:
      </p>
      <div class="snippet-controls">
        <Segmented legend="Language" name="snippet-language" options={languages} value={language} onChange={setLanguage} />
        <label class="field field-inline" for="snippet-model">
          <span class="field-label">Model</span>
          <select id="snippet-model" value={model} onChange={(e) => setModel((e.target as HTMLSelectElement).value)}>
            {k.models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {lang.install && (
        <p class="small muted">
          Install first: <code>{lang.install}</code>
        </p>
      )}
      <CodeBlock title={lang.label} fileName={lang.file} code={code} copyLabel={`Copy the ${lang.label} example`} testId="snippet" />
      {lang.file && lang.run && (
        <p class="small muted" data-testid="snippet-run">
          Save it as <code>{lang.file}</code> and run <code>{lang.run}</code>
          {lang.id === "typescript" && " (the .mts ending makes it a module, so the await at the top level works in any folder)"}.
        </p>
      )}
      <p class="small muted">
        Base URL: <code class="break">{k.base_url}</code>
      </p>
    </section>
  );
}

export function ErrorHelp({ budget }: { budget: number }) {
  return (
    <section class="card" aria-labelledby="errors-heading">
      <h2 id="errors-heading" class="h3">
        If a call fails
      </h2>
      <dl class="errors">
        {inferenceErrorHelp(budget).map((h) => (
          <div key={h.id} id={`error-${h.id}`}>
            <dt>
              <code>{h.status}</code> {h.title}
            </dt>
            <dd>{h.text}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

const TEST_PROMPT = "Say hello to the workshop in five words.";
const TEST_MAX_TOKENS = 16;

/** The model a test call costs least with, by the workshop's prices (the first one if none has prices). */
export function cheapestModel(models: CatalogModel[]): CatalogModel | undefined {
  // About what the test call uses: a dozen prompt tokens, TEST_MAX_TOKENS completion tokens.
  const cost = (m: CatalogModel) =>
    m.price_in_per_mtok === undefined || m.price_in_per_mtok === null || m.price_out_per_mtok === undefined || m.price_out_per_mtok === null
      ? Number.POSITIVE_INFINITY
      : m.price_in_per_mtok * 12 + m.price_out_per_mtok * TEST_MAX_TOKENS;
  return [...models].sort((a, b) => cost(a) - cost(b))[0];
}

type TestResult =
  | { kind: "answer"; model: string; text: string }
  | { kind: "error"; status: number; message: string; help?: { title: string; text: string } }
  | { kind: "unreachable"; host: string };

/** One click: a tiny chat request from this browser to the attendee base URL, with this key. */
function TryIt({ k }: { k: MyKey }) {
  const model = cheapestModel(k.models);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<TestResult | null>(null);
  if (!model || !k.key) return null;
  const run = async () => {
    if (busy) return;
    setBusy(true);
    setResult(null);
    try {
      const res = await fetch(`${k.base_url.replace(/\/+$/, "")}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${k.key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: model.id, max_tokens: TEST_MAX_TOKENS, messages: [{ role: "user", content: TEST_PROMPT }] }),
        credentials: "omit",
      });
      const body = (await res.json().catch(() => ({}))) as {
        choices?: { message?: { content?: string | null } }[];
        error?: { message?: string; metadata?: Record<string, unknown> };
      };
      if (res.ok) {
        setResult({ kind: "answer", model: model.label, text: body.choices?.[0]?.message?.content?.trim() || "(an empty answer)" });
      } else {
        const message = body.error?.message ?? `HTTP ${res.status}`;
        setResult({ kind: "error", status: res.status, message, help: explainInferenceError(k.budget_usd, res.status, message, body.error?.metadata) });
      }
    } catch {
      setResult({ kind: "unreachable", host: new URL(k.base_url, location.href).host });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="try-heading">
      <h2 id="try-heading" class="h3">
        Test my key
      </h2>
      <p class="small muted">
        Sends one tiny request (“{TEST_PROMPT}”, at most {TEST_MAX_TOKENS} tokens) to {model.label}, the cheapest model here. It
        costs a fraction of a cent.
      </p>
      {/* Not `disabled` while busy: a disabled button drops the focus, and the keyboard would start over. */}
      <button type="button" class="btn btn-secondary" aria-disabled={busy} onClick={run}>
        {busy ? "Testing…" : "Test my key"}
      </button>
      <div class="try-result" aria-live="polite" data-testid="try-result">
        {result?.kind === "answer" && (
          <Notice tone="ok" title={`It works. ${result.model} answered:`}>
            <p class="try-answer">{result.text}</p>
          </Notice>
        )}
        {result?.kind === "error" && (
          <Notice tone="error" title={`The test failed: ${result.status}${result.help ? ` ${result.help.title}` : ""}`}>
            <p>{result.help?.text ?? "See “If a call fails” below."}</p>
            <p class="small try-said">OpenRouter said: {result.message}</p>
          </Notice>
        )}
        {result?.kind === "unreachable" && (
          <Notice tone="error" title="The test could not reach OpenRouter.">
            <p>
              {result.host} did not answer from this browser. Check your connection (a network that blocks it will block your code
              too), then test again.
            </p>
          </Notice>
        )}
      </div>
    </section>
  );
}

/** Signed in, no key: what fits the workshop's state, never "go get one" when none can be had. */
function NoKey({ w, state, now }: { w: CatalogWorkshop; state: WorkshopState; now: number }) {
  const page = <a href={`/w/${w.slug}`}>workshop page</a>;
  switch (state) {
    case "open":
      return (
        <Notice title="You have not claimed a key for this workshop yet.">
          <p>Go to the {page} to get one.</p>
        </Notice>
      );
    case "upcoming":
      return (
        <Notice title={`Claims open in ${formatDuration(Date.parse(w.claims_open_at) - now)}.`}>
          <p>You have no key yet. Keys become available {formatWhen(w.claims_open_at)}: keep the {page} open, it updates by itself.</p>
        </Notice>
      );
    case "paused":
      return (
        <Notice tone="warn" title="Claims are paused, and you have no key yet.">
          <p>The organizers paused key claims for a moment. Keep the {page} open: it updates by itself when they resume.</p>
        </Notice>
      );
    case "sold_out":
      return (
        <Notice tone="warn" title="All keys have been claimed, and this account has none.">
          <p>Every key for this workshop is taken. Please talk to the organizers in the room.</p>
        </Notice>
      );
    case "closed":
      return (
        <Notice title="Claims are closed, and this account has no key.">
          <p>
            This workshop no longer hands out keys. If you claimed one, you may have used another account: sign out and sign in with
            that one.
          </p>
        </Notice>
      );
  }
}

/** A key that no longer works: what happened and what to do, and nothing that suggests it still works. */
function EndedKey({ k }: { k: MyKey }) {
  const spent = `It spent ${formatUsd(k.usage_usd)} of its ${formatUsd(k.budget_usd)} budget.`;
  if (k.status === "REVOKED") {
    return (
      <Notice tone="error" title="An organizer turned this key off.">
        <p>
          It stopped working {k.revoked_at ? formatWhen(k.revoked_at) : "when it was revoked"} and cannot be used again. {spent}
        </p>
        <p>Ask an organizer if you think this is a mistake.</p>
      </Notice>
    );
  }
  return (
    <Notice tone="warn" title="This key has expired.">
      <p>
        It expired {formatWhen(k.expires_at)} (the workshop is over) and no longer works. {spent}
      </p>
      <p>Thanks for coming. Keys from a future workshop are claimed on that workshop's page.</p>
    </Notice>
  );
}

export function KeyPage({ catalog, slug }: SiteProps & { slug: string }) {
  const w = findWorkshop(catalog, slug);
  const session = useSession();
  const sessionEnded = useSessionEnded();
  const myKey = useMyKey(session, slug);
  const { bySlug } = useStatuses();
  const now = useNow(1000);
  const k = myKey.value;
  const settling = k?.status === "RESERVED" || k?.status === "MINTED";
  const live = k?.status === "ACTIVE" || k?.status === "UNBOUND";
  useEffect(() => {
    if (!session || !w) return;
    // Usage changes as the attendee works; a key being set up changes within seconds.
    const id = setInterval(
      () => {
        if (document.visibilityState === "visible") void myKey.reload();
      },
      settling ? 3000 : KEY_REFRESH_MS,
    );
    return () => clearInterval(id);
  }, [session?.sub, settling]);
  useEffect(() => {
    // Opening the page reads what the key has spent right now, not at the last sync.
    if (session && w && live) fetchLiveKey(slug).then(myKey.set, () => undefined);
  }, [session?.sub, slug, live]);

  if (!w) {
    return (
      <>
        <PageTitle title="Workshop not found" />
        <p>
          There is no workshop at this address, so there is no key here either. Check the link, or <a href="/">see all workshops</a>.
        </p>
      </>
    );
  }
  const back = (
    <p class="back">
      <a href={`/w/${slug}`}>← {w.name}</a>
    </p>
  );
  if (!session) {
    return (
      <>
        {back}
        <PageTitle title="Your API key" />
        <p>Sign in with the account you used to claim your key.</p>
        {/* After a session ended, the notice above has the one sign-in button. */}
        {!sessionEnded && (
          <button type="button" class="btn btn-primary btn-block" onClick={() => void signIn(`/w/${slug}/key`)}>
            Sign in to see my key
          </button>
        )}
      </>
    );
  }
  if (k === undefined && myKey.loading) return <Spinner label={myKey.queued ?? "Loading your key…"} />;
  if (myKey.error && k === undefined) {
    const unreachable = myKey.error.code === "network" || myKey.error.status === 0;
    return (
      <>
        {back}
        <PageTitle title="Your API key" />
        {unreachable ? (
          <Notice title="Your key shows here as soon as the server answers.">
            <p>Nothing is lost: the key is stored on the server.</p>
          </Notice>
        ) : (
          <>
            <Notice tone="error">{myKey.error.message}</Notice>
            <button type="button" class="btn btn-secondary" onClick={() => void myKey.reload()}>
              Try again
            </button>
          </>
        )}
      </>
    );
  }
  if (!k) {
    return (
      <>
        {back}
        <PageTitle title="Your API key" />
        <NoKey w={w} state={workshopState(w, bySlug.get(slug), now)} now={now} />
      </>
    );
  }
  const expired = k.status === "EXPIRED" || (k.status !== "REVOKED" && Date.parse(k.expires_at) <= serverNow());
  if (k.status === "REVOKED" || expired) {
    return (
      <>
        {back}
        <PageTitle title={k.status === "REVOKED" ? "Your key was turned off" : "Your key has expired"} />
        <EndedKey k={k} />
      </>
    );
  }
  const notice = STATUS_NOTICE[k.status];
  return (
    <>
      {back}
      <PageTitle title="Your API key" />
      {notice && (
        <Notice tone={notice.tone} title={notice.title}>
          <p>{notice.text}</p>
        </Notice>
      )}
      {k.key && (
        <section class="card keycard" aria-label="Key">
          <KeyBox secret={k.key} />
          <Expiry expiresAt={k.expires_at} />
          <p class="fineprint">Keep it to yourself: anyone with the key spends your budget. This page shows the same key whenever you sign in.</p>
        </section>
      )}
      {k.status !== "RELEASED" && <Budget k={k} onChecked={myKey.set} />}
      {k.key && <TryIt k={k} />}
      {k.key && <UseIt k={k} />}
      <ErrorHelp budget={k.budget_usd} />
    </>
  );
}
