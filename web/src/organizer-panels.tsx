import { useEffect, useState } from "preact/hooks";
import { api, errorMessage } from "./api.js";
import { KeyBox, UseIt } from "./key.js";
import { formatUsd, formatWhen } from "./time.js";
import type { AdminClaim, MyKey } from "./types.js";
import { Notice } from "./ui.js";

/**
 * Organizer panels of issue 22 beside the claims table: claiming a key on behalf of someone in the
 * room (the key is shown once, as the attendee's key page shows it), and the audit trail.
 */

export function ClaimOnBehalfPanel({ slug, onClaimed }: { slug: string; onClaimed: () => void }) {
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [made, setMade] = useState<{ key: MyKey; claim: AdminClaim } | null>(null);
  if (made) {
    return (
      <section class="card" aria-labelledby="behalf-key-heading" data-testid="behalf-key">
        <h2 id="behalf-key-heading" class="h3">
          The key of {made.claim.display_name || made.claim.email}
        </h2>
        <p>
          Shown once: copy it or let them type it now. It is not kept anywhere you can open again. Budget {formatUsd(made.key.budget_usd)}, until{" "}
          {formatWhen(made.key.expires_at)}.
        </p>
        <KeyBox secret={made.key.key ?? ""} />
        <UseIt k={made.key} />
        <button type="button" class="btn btn-primary" onClick={() => setMade(null)}>
          Done, hide the key
        </button>
      </section>
    );
  }
  return (
    <details class="card">
      <summary>Claim a key for someone in the room</summary>
      <p class="small muted">For someone without a phone or laptop to sign in: the key counts as this email's one key.</p>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            const body = { email: email.trim(), ...(name.trim() ? { display_name: name.trim() } : {}) };
            setMade(await api<{ key: MyKey; claim: AdminClaim }>(`/admin/workshops/${slug}/claim-on-behalf`, { method: "POST", auth: true, body }));
            setEmail("");
            setName("");
            onClaimed();
          } catch (err) {
            setError(errorMessage(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label class="field" for="behalf-email">
          <span class="field-label">Their email</span>
          <input id="behalf-email" type="email" required autoComplete="off" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        </label>
        <label class="field" for="behalf-name">
          <span class="field-label">Their name (optional)</span>
          <input id="behalf-name" type="text" maxLength={80} autoComplete="off" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </label>
        {error && <Notice tone="error">{error}</Notice>}
        <button type="submit" class="btn btn-primary" disabled={busy}>
          Claim their key
        </button>
      </form>
    </details>
  );
}

interface AuditEntry {
  at: string;
  action: string;
  by: string;
  email?: string;
  details?: Record<string, string | number | boolean>;
}

const ACTION_WORDS: Record<string, string> = {
  revoke: "revoked the key of",
  top_up: "topped up the key of",
  allow_again: "allowed a new key for",
  retry_binding: "retried the binding of",
  claim_on_behalf: "claimed a key for",
  pause: "paused claims",
  resume: "resumed claims",
  export: "downloaded",
  invite_list: "uploaded the invite list",
};

function what(e: AuditEntry): string {
  const d = e.details ?? {};
  if (e.action === "top_up") return ` by ${formatUsd(Number(d.amount_usd))} (limit now ${formatUsd(Number(d.limit_usd))})`;
  if (e.action === "revoke" && d.returned_usd !== undefined) return `; ${formatUsd(Number(d.returned_usd))} back to the pool`;
  if (e.action === "export") return ` ${d.file}`;
  return "";
}

/** The newest organizer actions; `version` changes after each action so the list follows. */
export function AuditPanel({ slug, version, onDownload }: { slug: string; version: number; onDownload: () => void }) {
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ entries: AuditEntry[] }>(`/admin/workshops/${slug}/audit`, { auth: true }).then(
      (b) => (setEntries(b.entries), setError(null)),
      (err) => setError(errorMessage(err)),
    );
  }, [slug, version]);
  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Organizer actions</h2>
      {error && <Notice tone="error">{error}</Notice>}
      {entries && entries.length === 0 && <p class="muted">No organizer action yet.</p>}
      {entries && entries.length > 0 && (
        <ol class="audit" data-testid="audit">
          {entries.slice(0, 20).map((e) => (
            <li key={`${e.at}${e.action}${e.email ?? ""}`}>
              <span class="muted nowrap">{formatWhen(e.at)}</span> {e.by} {ACTION_WORDS[e.action] ?? e.action}
              {e.email ? ` ${e.email}` : ""}
              {what(e)}
            </li>
          ))}
        </ol>
      )}
      <button type="button" class="btn btn-secondary" onClick={onDownload}>
        Download organizer actions (CSV)
      </button>
    </section>
  );
}

/** Every address in a CSV (any column; a header row has none). */
export function emailsInCsv(text: string): string[] {
  const found = text.match(/[^\s,;"'<>@]+@[^\s,;"'<>@]+\.[^\s,;"'<>@]+/g) ?? [];
  return [...new Set(found.map((e) => e.trim()))];
}

/** Parts of at most ~3.5 KB of JSON: the API takes bodies up to 4 KB and 100 addresses. */
function parts(emails: string[]): string[][] {
  const out: string[][] = [];
  let part: string[] = [];
  let size = 0;
  for (const e of emails) {
    if (part.length === 100 || size + e.length + 3 > 3500) {
      out.push(part);
      part = [];
      size = 0;
    }
    part.push(e);
    size += e.length + 3;
  }
  if (part.length) out.push(part);
  return out;
}

/** Workshops with `attendees.invite_list`: upload the list as a CSV, see who on it has no key yet. */
export function InviteListPanel({ slug, onUploaded }: { slug: string; onUploaded: () => void }) {
  const [state, setState] = useState<{ enabled: boolean; invited: number; not_claimed: string[] } | null>(null);
  const [message, setMessage] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const load = () => api<{ enabled: boolean; invited: number; not_claimed: string[] }>(`/admin/workshops/${slug}/invites`, { auth: true }).then(setState, () => {});
  useEffect(() => void load(), [slug]);
  if (!state?.enabled) return null;
  return (
    <section class="card" aria-labelledby="invites-heading">
      <h2 id="invites-heading" class="h3">
        Invite list
      </h2>
      <p data-testid="invites-summary">
        {state.invited === 0
          ? "No list uploaded yet: nobody can claim a key until you upload one."
          : `${state.invited} ${state.invited === 1 ? "person" : "people"} on the list; ${state.not_claimed.length} of them have not claimed a key yet.`}
      </p>
      {state.not_claimed.length > 0 && (
        <details>
          <summary>Not claimed yet</summary>
          <ul data-testid="invites-not-claimed">
            {state.not_claimed.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
        </details>
      )}
      <label class="field" for="invites-file">
        <span class="field-label">Upload a new list (CSV with an email address on each row; it replaces the current list)</span>
        <input
          id="invites-file"
          type="file"
          accept=".csv,text/csv,text/plain"
          disabled={busy}
          onChange={async (e) => {
            const input = e.target as HTMLInputElement;
            const file = input.files?.[0];
            if (!file) return;
            setBusy(true);
            setMessage(null);
            try {
              const emails = emailsInCsv(await file.text());
              if (emails.length === 0) throw new Error("No email address found in that file.");
              const chunks = parts(emails);
              for (const [i, chunk] of chunks.entries()) {
                await api(`/admin/workshops/${slug}/invites`, { method: "POST", auth: true, body: { emails: chunk, replace: i === 0 } });
              }
              // The summary first, then the message: what the organizer reads next is already current.
              await load();
              setMessage({ tone: "ok", text: `Uploaded ${emails.length} addresses.` });
              onUploaded();
            } catch (err) {
              setMessage({ tone: "error", text: `${errorMessage(err)} The list may be only partly uploaded: upload it again.` });
            } finally {
              setBusy(false);
              input.value = "";
            }
          }}
        />
      </label>
      {message && <Notice tone={message.tone}>{message.text}</Notice>}
    </section>
  );
}
