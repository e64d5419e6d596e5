import { createPrivateKey, createSign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DEFAULT_API_THROTTLE } from "../../infra/api-throttle.js";
import { isBusy, parseRetryAfter, retryWhileBusy } from "../../web/src/retry.js";
import { startLocalStack, type LocalStack } from "../stack.js";
import { workshopFileAround, writeWorkshopFiles } from "../workshop-files.js";
import type { ThrottleSettings } from "../throttle.js";
import type { FigureBook } from "./figures.js";
import { percentile } from "./rig.js";

/**
 * A room claiming at once, through the page's own retry policy (web/src/retry.ts), over HTTP against
 * the local stack behind API Gateway's throttle (`--throttle`, local/throttle.ts). Each simulated
 * attendee starts at a random moment of the window and sends what the attendee page sends (see
 * infra/api-throttle.ts): GET /me?workshop and GET …/key together as the page opens, PUT /me and
 * POST …/claim on "Confirm and get my key", then GET …/key?usage=live on the key page (whose failure
 * the page ignores: it already shows the key). The anonymous status poll is left out: CloudFront
 * answers it from its cache in the cloud.
 *
 * `npm run bench` runs 1,000 attendees on 900 keys behind the default throttle (run.ts);
 * `npx tsx local/bench/room.ts [attendees] [keys]` runs this alone. local/room.test.ts runs 150 on a
 * tight throttle.
 *
 * Signing in 1,000 people through the local provider's form would measure the sign-in, not the
 * room: the ID tokens are signed here with the stack's own signing key (its data folder's
 * `oidc/signing-key.json`), with the claims the provider puts in them, as the bench signs its tokens.
 */

export const ROOM_SLUG = "room";

export interface RoomResult {
  attendees: number;
  keys: number;
  soldOut: number;
  /** Anything else an attendee would have seen: must be 0. */
  errors: number;
  errorSamples: string[];
  duplicateKeys: number;
  /** Busy answers the retry policy absorbed (asked again, then answered). */
  retried429: number;
  retried503: number;
  /** The 503s' codes (ours, or none: a gateway's). */
  busyCodes: string[];
  /** Live usage reads the stage refused: the page keeps the key it has. */
  liveReadsRefused: number;
  /** From an attendee's first request to the key in hand. */
  timeToKeyMs: { p50: number; p95: number; max: number };
  wallMs: number;
}

interface Answer {
  status: number;
  body: { key?: { key?: string | null }; error?: { code?: string } } | null;
}

/** What api.ts makes of a failed answer: busy or not, with its Retry-After. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly busy: boolean,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`${status} ${code ?? "(no code of ours)"}`);
  }
}

/** A workshop file open now with `keys` places ($1 each), no room code, for the stack's workshops folder. */
function writeRoomWorkshop(dir: string, keys: number, nowMs: number): string {
  return writeWorkshopFiles(dir, [workshopFileAround(ROOM_SLUG, nowMs, { claim_code: false, keys })]);
}

export interface RoomStack {
  stack: LocalStack;
  /** An ID token the stack accepts, as its provider would sign it for this person. */
  tokenFor(user: { sub: string; email: string }): string;
  close(): Promise<void>;
}

/** The local stack on a fresh data folder with the room's workshop, behind `throttle`. */
export async function startRoomStack(opts: { keys: number; throttle: ThrottleSettings }): Promise<RoomStack> {
  const dir = mkdtempSync(join(tmpdir(), "wkm-room-"));
  try {
    const stack = await startLocalStack({
      port: 0,
      dataDir: join(dir, "data"),
      workshopsDir: writeRoomWorkshop(join(dir, "workshops"), opts.keys, Date.now()),
      demo: false,
      quiet: true,
      throttle: opts.throttle,
    });
    const jwk = JSON.parse(readFileSync(join(stack.dataDir, "oidc", "signing-key.json"), "utf8")) as { kid: string };
    const key = createPrivateKey({ key: jwk as never, format: "jwk" });
    const b64url = (x: string | Buffer) => Buffer.from(x).toString("base64url");
    const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: jwk.kid }));
    return {
      stack,
      tokenFor: ({ sub, email }) => {
        const iat = Math.floor(Date.now() / 1000);
        const payload = { iss: stack.oidc.issuer, aud: stack.oidc.clientId, sub, email, email_verified: true, token_use: "id", iat, exp: iat + 3600 };
        const input = `${header}.${b64url(JSON.stringify(payload))}`;
        return `${input}.${b64url(createSign("RSA-SHA256").update(input).sign(key))}`;
      },
      close: async () => {
        await stack.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `attendees` people, each starting at a random moment of `windowMs`, going from the workshop page to their key. */
export async function runRoom(room: RoomStack, opts: { attendees: number; windowMs: number; prefix?: string }): Promise<RoomResult> {
  const api = `${room.stack.url}/api`;
  const prefix = opts.prefix ?? "attendee";
  let retried429 = 0;
  let retried503 = 0;
  let liveReadsRefused = 0;
  const busyCodes = new Set<string>();

  const send = async (token: string, method: string, path: string, body?: unknown): Promise<Answer> => {
    const headers: Record<string, string> = { accept: "application/json", authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${api}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: Answer["body"] = null;
    try {
      parsed = text ? (JSON.parse(text) as Answer["body"]) : null;
    } catch {
      // Not JSON: counted by its status.
    }
    if (res.ok) return { status: res.status, body: parsed };
    const code = parsed?.error?.code;
    throw new Refusal(res.status, code, isBusy(res.status, code), parseRetryAfter(res.headers.get("retry-after"), Date.now()));
  };
  // As the page's apiPatiently: busy answers are asked again by the page's policy, and counted.
  const patiently = (token: string, method: string, path: string, body?: unknown) =>
    retryWhileBusy(async () => {
      try {
        return await send(token, method, path, body);
      } catch (err) {
        if (err instanceof Refusal && err.busy) {
          if (err.status === 429) retried429++;
          else {
            retried503++;
            busyCodes.add(`${err.status} ${err.code ?? "(none)"}`);
          }
        }
        throw err;
      }
    });

  type Outcome = { kind: "key"; key: string; ms: number } | { kind: "sold_out" } | { kind: "error"; what: string };
  const attendee = async (i: number): Promise<Outcome> => {
    await new Promise((r) => setTimeout(r, Math.random() * opts.windowMs));
    const user = { sub: `${prefix}-${i}`, email: `${prefix}-${i}@example.org` };
    const token = room.tokenFor(user);
    const started = performance.now();
    try {
      await Promise.all([patiently(token, "GET", `/me?workshop=${ROOM_SLUG}`), patiently(token, "GET", `/workshops/${ROOM_SLUG}/key`)]);
      await patiently(token, "PUT", "/me", { display_name: user.sub, marketing_opted_in: false, workshop: ROOM_SLUG });
      const claim = await patiently(token, "POST", `/workshops/${ROOM_SLUG}/claim`);
      const ms = performance.now() - started;
      const key = claim.body?.key?.key;
      if (!key) return { kind: "error", what: `claim answered ${claim.status} without a key` };
      await send(token, "GET", `/workshops/${ROOM_SLUG}/key?usage=live`).catch((err: unknown) => {
        if (err instanceof Refusal && err.busy) liveReadsRefused++;
        else throw err;
      });
      return { kind: "key", key, ms };
    } catch (err) {
      if (err instanceof Refusal && err.status === 409 && err.code === "sold_out") return { kind: "sold_out" };
      // Never the key itself: a Refusal names a status and a code, anything else its message.
      const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
      return { kind: "error", what: err instanceof Refusal ? err.message : `${String((err as Error)?.message ?? err)}${cause ? ` (${cause.code ?? cause.message})` : ""}` };
    }
  };

  const started = performance.now();
  const outcomes = await Promise.all(Array.from({ length: opts.attendees }, (_, i) => attendee(i)));
  const wallMs = Math.round(performance.now() - started);
  const keys = outcomes.flatMap((o) => (o.kind === "key" ? [o.key] : []));
  const errors = outcomes.flatMap((o) => (o.kind === "error" ? [o.what] : []));
  const times = outcomes.flatMap((o) => (o.kind === "key" ? [o.ms] : []));
  const p = (q: number) => (times.length ? Math.round(percentile(times, q)) : 0);
  return {
    attendees: opts.attendees,
    keys: keys.length,
    soldOut: outcomes.filter((o) => o.kind === "sold_out").length,
    errors: errors.length,
    errorSamples: [...new Set(errors)].slice(0, 5),
    busyCodes: [...busyCodes],
    duplicateKeys: keys.length - new Set(keys).size,
    retried429,
    retried503,
    liveReadsRefused,
    timeToKeyMs: { p50: p(50), p95: p(95), max: p(100) },
    wallMs,
  };
}

export function describeRoom(r: RoomResult, throttle: ThrottleSettings, windowMs = 10_000): string[] {
  return [
    `Room: ${r.attendees} attendees within ${windowMs / 1000} s, throttle ${throttle.ratePerSecond}/s burst ${throttle.burst}`,
    `  keys:        ${r.keys}`,
    `  sold out:    ${r.soldOut}`,
    `  errors:      ${r.errors}${r.errorSamples.length ? ` (${r.errorSamples.join("; ")})` : ""}`,
    `  429s retried: ${r.retried429} (503s retried: ${r.retried503}${r.busyCodes.length ? ` [${r.busyCodes.join(", ")}]` : ""}; live usage reads refused, key kept: ${r.liveReadsRefused})`,
    `  time to key: p50 ${r.timeToKeyMs.p50} ms, p95 ${r.timeToKeyMs.p95} ms, max ${r.timeToKeyMs.max} ms (all in ${r.wallMs} ms)`,
  ];
}

/** The room's figures in the bench's book: errors and duplicate keys are promises (0, else exit 1). */
export function addRoomFigures(book: FigureBook, r: RoomResult, throttle: ThrottleSettings): void {
  const section = `A room of ${r.attendees.toLocaleString("en")} within 10 s: the page's retry policy, the local stack behind the throttle (${throttle.ratePerSecond}/s, burst ${throttle.burst})`;
  book.add(section, "room_errors", `attendees (of ${r.attendees}) who saw an error: neither a key nor sold out`, r.errors, "", {
    limit: { kind: "max", value: 0, promise: true },
    note: r.errorSamples.join("; ") || undefined,
  });
  book.add(section, "room_duplicate_keys", "duplicate keys", r.duplicateKeys, "", { limit: { kind: "max", value: 0, promise: true } });
  book.add(section, "room_keys", "keys / sold out", r.keys, "keys", { note: `${r.soldOut} sold out` });
  book.add(section, "room_429s_retried", "429s absorbed by the retry policy", r.retried429, "", {
    note: `503s retried ${r.retried503}${r.busyCodes.length ? ` (${r.busyCodes.join(", ")})` : ""}; live usage reads refused ${r.liveReadsRefused}`,
  });
  book.add(section, "room_time_to_key_p50_ms", "time to key p50 / p95 / max", r.timeToKeyMs.p50, "ms", { note: `p95 ${r.timeToKeyMs.p95} ms, max ${r.timeToKeyMs.max} ms` });
}

/** The long run: 1,000 attendees on 900 keys behind the default throttle. */
export async function benchRoom(opts: { attendees?: number; keys?: number } = {}): Promise<RoomResult> {
  const room = await startRoomStack({ keys: opts.keys ?? 900, throttle: DEFAULT_API_THROTTLE });
  try {
    return await runRoom(room, { attendees: opts.attendees ?? 1_000, windowMs: 10_000 });
  } finally {
    await room.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [attendees, keys] = process.argv.slice(2).map(Number);
  benchRoom({ attendees: attendees || undefined, keys: keys || undefined }).then(
    (r) => {
      for (const line of describeRoom(r, DEFAULT_API_THROTTLE)) console.log(line);
      if (r.errors > 0 || r.duplicateKeys > 0 || r.keys + r.soldOut !== r.attendees) process.exitCode = 1;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
