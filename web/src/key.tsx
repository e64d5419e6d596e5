import { useEffect, useState } from "preact/hooks";
import { useMyKey, useSession } from "./account.js";
import { signIn } from "./auth.js";
import type { SiteProps } from "./main.js";
import { findWorkshop } from "./site-data.js";
import { codeSnippet, envSnippet, SNIPPET_LANGUAGES, type SnippetLanguage } from "./snippets.js";
import { formatAgo, formatDuration, formatUsd, formatWhen, serverNow, useNow } from "./time.js";
import type { ClaimStatus, MyKey } from "./types.js";
import { CodeBlock, CopyButton, Meter, Notice, PageTitle, Spinner } from "./ui.js";

/** /w/<slug>/key: the attendee's key, what is left of it, and code to use it right away. */

const KEY_REFRESH_MS = 30_000;

export function maskKey(key: string): string {
  const prefix = key.startsWith("sk-or-v1-") ? "sk-or-v1-" : key.slice(0, 3);
  return `${prefix}${"•".repeat(12)}${key.slice(-4)}`;
}

const STATUS_NOTICE: Partial<Record<ClaimStatus, { tone: "info" | "warn" | "error"; title: string; text: string }>> = {
  UNBOUND: {
    tone: "info",
    title: "Your key works.",
    text: "We are still attaching the workshop's model list to it; nothing to do on your side.",
  },
  MINTED: { tone: "info", title: "Almost ready.", text: "Your key is being set up. This page updates by itself." },
  RESERVED: { tone: "info", title: "Almost ready.", text: "Your key is being created. This page updates by itself." },
  REVOKED: { tone: "error", title: "This key was turned off.", text: "The organizers revoked it. Please talk to them if you think this is a mistake." },
  EXPIRED: { tone: "warn", title: "This key has expired.", text: "The workshop is over and the key no longer works." },
  RELEASED: { tone: "error", title: "No key was created.", text: "Creating your key failed. Go back to the workshop page and try again." },
};

function KeyBox({ secret }: { secret: string }) {
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

function Budget({ k }: { k: MyKey }) {
  const left = k.limit_remaining ?? Math.max(0, k.budget_usd - k.usage_usd);
  const used = Math.max(0, k.budget_usd - left, k.usage_usd);
  const now = useNow(30_000);
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
      <p class="fineprint">
        {k.usage_synced_at
          ? `Usage is updated every few minutes; last update ${formatAgo(now - Date.parse(k.usage_synced_at))}.`
          : "Usage is updated every few minutes."}
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

function UseIt({ k }: { k: MyKey }) {
  const [language, setLanguage] = useState<SnippetLanguage>("python");
  const [model, setModel] = useState(k.models[0]?.id ?? "");
  const lang = SNIPPET_LANGUAGES.find((l) => l.id === language) ?? SNIPPET_LANGUAGES[0];
  const code = codeSnippet(language, k.base_url, model);
  const secret = k.key ?? "";
  return (
    <section class="card" aria-labelledby="use-heading">
      <h2 id="use-heading" class="h3">
        Use it
      </h2>
      <p class="step">
        <span class="step-n" aria-hidden="true">1</span> Put the key in your terminal's environment:
      </p>
      <CodeBlock
        title="macOS / Linux"
        code={envSnippet(maskKey(secret), "posix")}
        copyText={envSnippet(secret, "posix")}
        copyLabel="Copy the export command with your key"
      />
      <details class="small">
        <summary>On Windows (PowerShell)</summary>
        <CodeBlock
          title="PowerShell"
          code={envSnippet(maskKey(secret), "powershell")}
          copyText={envSnippet(secret, "powershell")}
          copyLabel="Copy the PowerShell command with your key"
        />
      </details>
      <p class="step">
        <span class="step-n" aria-hidden="true">2</span> Call a model:
      </p>
      <div class="snippet-controls">
        <fieldset class="segmented">
          <legend class="field-label">Language</legend>
          {SNIPPET_LANGUAGES.map((l) => (
            <label key={l.id} class={l.id === language ? "selected" : undefined}>
              <input type="radio" name="snippet-language" value={l.id} checked={l.id === language} onChange={() => setLanguage(l.id)} />
              {l.label}
            </label>
          ))}
        </fieldset>
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
      <CodeBlock title={lang.label} code={code} copyLabel={`Copy the ${lang.label} example`} testId="snippet" />
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
        <div>
          <dt>
            <code>401</code> Unauthorized
          </dt>
          <dd>
            The key has expired (after the workshop) or was turned off by the organizers. An expired key can also answer
            “User not found.” Check the status on this page.
          </dd>
        </div>
        <div>
          <dt>
            <code>402</code> Payment required
          </dt>
          <dd>Your key has spent its whole {formatUsd(budget)} budget. Ask the organizers if you need more.</dd>
        </div>
        <div>
          <dt>
            <code>403</code> Forbidden
          </dt>
          <dd>
            The model is not on this workshop's list, or the workshop's guardrail blocked the request. Pick a model from the list
            above. “Key limit exceeded” also means the budget is used up.
          </dd>
        </div>
        <div>
          <dt>
            <code>404</code> No endpoints matching your guardrail
          </dt>
          <dd>The model id is not one this workshop allows. Copy it exactly from the model picker above.</dd>
        </div>
        <div>
          <dt>
            <code>429</code> Too many requests
          </dt>
          <dd>Slow down. Wait the seconds given in the Retry-After header, then try again; add a short pause in loops.</dd>
        </div>
      </dl>
    </section>
  );
}

export function KeyPage({ catalog, slug }: SiteProps & { slug: string }) {
  const w = findWorkshop(catalog, slug);
  const session = useSession();
  const myKey = useMyKey(session, slug);
  const k = myKey.value;
  const settling = k?.status === "RESERVED" || k?.status === "MINTED";
  useEffect(() => {
    if (!session) return;
    // Usage changes as the attendee works; a key being set up changes within seconds.
    const id = setInterval(
      () => {
        if (document.visibilityState === "visible") void myKey.reload();
      },
      settling ? 3000 : KEY_REFRESH_MS,
    );
    return () => clearInterval(id);
  }, [session?.idToken, settling]);

  const title = w ? w.name : slug;
  const back = (
    <p class="back">
      <a href={`/w/${slug}`}>← {title}</a>
    </p>
  );
  if (!session) {
    return (
      <>
        {back}
        <PageTitle title="Your API key" />
        <p>Sign in with the account you used to claim your key.</p>
        <button type="button" class="btn btn-primary btn-block" onClick={() => void signIn(`/w/${slug}/key`)}>
          Sign in to see my key
        </button>
      </>
    );
  }
  if (k === undefined && myKey.loading) return <Spinner label="Loading your key…" />;
  if (myKey.error && k === undefined) {
    return (
      <>
        {back}
        <PageTitle title="Your API key" />
        <Notice tone="error">{myKey.error.message}</Notice>
        <button type="button" class="btn btn-secondary" onClick={() => void myKey.reload()}>
          Try again
        </button>
      </>
    );
  }
  if (!k) {
    return (
      <>
        {back}
        <PageTitle title="Your API key" />
        <Notice title="You have not claimed a key for this workshop yet.">
          <p>
            <a href={`/w/${slug}`}>Go to the workshop page</a> to get one.
          </p>
        </Notice>
      </>
    );
  }
  const notice = STATUS_NOTICE[k.status];
  const expired = k.status === "EXPIRED" || Date.parse(k.expires_at) <= serverNow();
  return (
    <>
      {back}
      <PageTitle title="Your API key" />
      {notice && (
        <Notice tone={notice.tone} title={notice.title}>
          <p>{notice.text}</p>
        </Notice>
      )}
      <section class="card keycard" aria-label="Key">
        {k.key ? <KeyBox secret={k.key} /> : <p class="muted">The key itself is no longer stored{expired ? " because it expired" : ""}.</p>}
        <Expiry expiresAt={k.expires_at} />
        <p class="fineprint">Keep it to yourself: anyone with the key spends your budget. This page shows the same key whenever you sign in.</p>
      </section>
      <Budget k={k} />
      {k.key && !expired && k.status !== "REVOKED" && <UseIt k={k} />}
      <ErrorHelp budget={k.budget_usd} />
    </>
  );
}
