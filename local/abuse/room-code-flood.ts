import { randomInt } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ROOM_CODE_ALPHABET, ROOM_CODE_LENGTH } from "../../functions/domain/room-code.js";
import { callApi, signIn } from "../testing.js";

/**
 * A black-box attack on a running stack (the local one, over HTTP): one signed-in account sends
 * wrong room codes to a workshop's claim route as fast as it can, and the report says what came back
 * — how many answers of each status and code, when the first 429 came, and the `Retry-After` it
 * carried. It knows nothing of the server but its URL; the account signs in through the stack's
 * OpenID provider like any attendee.
 *
 *   node --import tsx local/abuse/room-code-flood.ts --url http://127.0.0.1:8787 --slug <workshop> \
 *     --email flooder@example.com [--attempts 1000] [--concurrency 8]
 *
 * prints the report as JSON. `local/abuse/room-code-flood.test.ts` runs it against the local stack.
 */

export interface FloodReport {
  attempts: number;
  /** Answers by HTTP status, e.g. {"403": 10, "429": 990}. */
  statuses: Record<string, number>;
  /** Answers by the API's error code (`key` for a key handed out). */
  codes: Record<string, number>;
  /** 1-based number of the first attempt answered 429, in the order answers came back. */
  first429: number | null;
  /** The distinct `Retry-After` values of the 429 answers (seconds). */
  retryAfter: number[];
  /** Answers that carried a key: an attack that guessed the code. */
  keys: number;
  /** Attempts that got no answer at all (the connection failed). */
  failed: number;
  ms: number;
}

export interface FloodOptions {
  url: string;
  slug: string;
  /** The attacker's ID token. */
  token: string;
  attempts?: number;
  concurrency?: number;
}

/** Six characters from the code alphabet: a guess, as good as any other. */
function guess(): string {
  let code = "";
  for (let i = 0; i < ROOM_CODE_LENGTH; i++) code += ROOM_CODE_ALPHABET[randomInt(ROOM_CODE_ALPHABET.length)];
  return code;
}

export async function floodRoomCode(opts: FloodOptions): Promise<FloodReport> {
  const attempts = opts.attempts ?? 1000;
  const started = Date.now();
  const report: FloodReport = { attempts, statuses: {}, codes: {}, first429: null, retryAfter: [], keys: 0, failed: 0, ms: 0 };
  const retryAfter = new Set<number>();
  let sent = 0;
  let answered = 0;
  const count = (into: Record<string, number>, k: string) => (into[k] = (into[k] ?? 0) + 1);

  async function attacker(): Promise<void> {
    while (sent < attempts) {
      sent++;
      let res: Response;
      try {
        res = await fetch(`${opts.url.replace(/\/$/, "")}/api/workshops/${encodeURIComponent(opts.slug)}/claim`, {
          method: "POST",
          headers: { authorization: `Bearer ${opts.token}`, "content-type": "application/json" },
          body: JSON.stringify({ code: guess() }),
        });
      } catch {
        report.failed++;
        continue;
      }
      const body = (await res.json().catch(() => ({}))) as { key?: unknown; error?: { code?: string } };
      answered++;
      count(report.statuses, String(res.status));
      count(report.codes, body.key ? "key" : (body.error?.code ?? "unknown"));
      if (body.key) report.keys++;
      if (res.status === 429) {
        report.first429 ??= answered;
        const after = Number(res.headers.get("retry-after"));
        if (Number.isFinite(after)) retryAfter.add(after);
      }
    }
  }

  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, attacker));
  report.retryAfter = [...retryAfter].sort((a, b) => a - b);
  report.ms = Date.now() - started;
  return report;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      slug: { type: "string" },
      email: { type: "string", default: "flooder@example.com" },
      attempts: { type: "string", default: "1000" },
      concurrency: { type: "string", default: "8" },
    },
  });
  if (!values.url || !values.slug) {
    console.error("usage: room-code-flood.ts --url <stack url> --slug <workshop> [--email a@b] [--attempts 1000] [--concurrency 8]");
    process.exit(2);
  }
  const token = await signIn(values.url, values.email!);
  // Through the confirm step first, as any attendee: a claim needs it.
  const confirmed = await callApi(values.url, token, "PUT", "/api/me", { display_name: "Flooder", marketing_opted_in: false });
  if (confirmed.status !== 200) throw new Error(`the confirm step answered ${confirmed.status}`);
  const report = await floodRoomCode({ url: values.url, slug: values.slug, token, attempts: Number(values.attempts), concurrency: Number(values.concurrency) });
  console.log(JSON.stringify(report));
}
