import { endSession, freshIdToken, refreshSession, sessionEnded } from "./auth.js";
import { reportReachable, reportUnreachable, setProbe } from "./connectivity.js";
import { isBusy, parseRetryAfter, retryWhileBusy, type RetryHooks } from "./retry.js";
import { loadConfig } from "./site-data.js";

/** Calls the HTTP API; every failure becomes an ApiError carrying the API's code and sentence. */

export class ApiError extends Error {
  override name = "ApiError";
  /** The API is busy (the gateway's throttle, a 503): the same call may be made again later (retry.ts). */
  readonly busy: boolean;
  /** The answer's Retry-After, in milliseconds. */
  readonly retryAfterMs?: number;
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly detail: Record<string, unknown> = {},
    options?: { cause?: unknown; busy?: boolean; retryAfterMs?: number },
  ) {
    super(message, options);
    this.busy = options?.busy ?? false;
    this.retryAfterMs = options?.retryAfterMs;
  }
}

export interface ApiRequest {
  method?: "GET" | "POST" | "PUT";
  body?: unknown;
  /** Send the signed-in visitor's ID token. */
  auth?: boolean;
}

/** What a request that needs a session answers once the session is gone. */
function signedOut(): ApiError {
  return sessionEnded()
    ? new ApiError("Your session ended — sign in again.", 401, "session_ended")
    : new ApiError("Please sign in first.", 401, "signed_out");
}

async function send(path: string, req: ApiRequest, idToken?: string): Promise<Response> {
  const config = await loadConfig();
  const headers: Record<string, string> = { accept: "application/json" };
  if (req.body !== undefined) headers["content-type"] = "application/json";
  if (req.auth) {
    const token = idToken ?? (await freshIdToken());
    if (!token) throw signedOut();
    headers.authorization = `Bearer ${token}`;
  }
  try {
    return await fetch(config.apiUrl.replace(/\/$/, "") + path, {
      method: req.method ?? "GET",
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      credentials: "omit",
      // The public status may come from CloudFront's cache (its age is in the Age header), never
      // from the browser's own, whose age the page could not know.
      cache: "no-cache",
    });
  } catch (cause) {
    reportUnreachable();
    throw new ApiError("Could not reach the server. Check your connection.", 0, "network", {}, { cause });
  }
}

/**
 * Sends the request; when the API refuses the token (401), refreshes the session once and sends it
 * again. A refused refresh ends the session, and the answer says so.
 */
async function sendWithSession(path: string, req: ApiRequest): Promise<Response> {
  const res = await send(path, req);
  if (res.status !== 401 || !req.auth) return res;
  let refreshed;
  try {
    refreshed = await refreshSession();
  } catch {
    return res; // the network failed on the refresh: the 401 stands, the session stays for a retry
  }
  if (!refreshed) {
    endSession();
    throw signedOut();
  }
  const again = await send(path, req, refreshed.idToken);
  if (again.status === 401) {
    // A brand-new token refused too: this session cannot be used here.
    endSession();
    throw signedOut();
  }
  return again;
}

async function failure(res: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string } & Record<string, unknown> } = {};
  try {
    body = await res.json();
  } catch {
    // Not JSON (a proxy's error page): fall back to the status line.
  }
  const ourCode = body.error?.code;
  const busy = isBusy(res.status, ourCode);
  const fallback =
    res.status === 429 ? "Lots of people are claiming right now and the server is full. Try again in a minute." : `The server answered ${res.status}. Try again in a moment.`;
  const { code = `http_${res.status}`, message = fallback, ...detail } = body.error ?? {};
  // A gateway's or proxy's 502/503/504 (no answer of ours), or the local stack restarting: the API
  // itself is not there. An API answer with its own code (e.g. OpenRouter unavailable) is.
  const apiAbsent = [502, 503, 504].includes(res.status) && (body.error?.code === undefined || code === "starting");
  if (apiAbsent) reportUnreachable();
  else reportReachable();
  return new ApiError(message, res.status, code, detail, { busy, retryAfterMs: parseRetryAfter(res.headers.get("retry-after"), Date.now()) });
}

async function answer(path: string, req: ApiRequest): Promise<Response> {
  const res = await sendWithSession(path, req);
  if (!res.ok) throw await failure(res);
  reportReachable();
  return res;
}

/** Like `api`, with how long a cache had kept the answer (the `Age` header, in milliseconds). */
export async function apiWithAge<T>(path: string, req: ApiRequest = {}): Promise<{ body: T; ageMs: number }> {
  const res = await answer(path, req);
  const age = Number(res.headers.get("age"));
  return { body: (await res.json()) as T, ageMs: Number.isFinite(age) && age > 0 ? age * 1000 : 0 };
}

/** The answer's JSON; `null` for 204 No Content (e.g. "no key yet"). */
export async function api<T>(path: string, req: ApiRequest = {}): Promise<T> {
  const res = await answer(path, req);
  return (res.status === 204 ? null : await res.json()) as T;
}

/**
 * Like `api`, asked again while the API is busy (its throttle, a 503), within a minute (retry.ts).
 * Only for reads and for calls that are idempotent per person (the claim, the confirm step).
 */
export function apiPatiently<T>(path: string, req: ApiRequest = {}, hooks: RetryHooks = {}): Promise<T> {
  return retryWhileBusy(() => api<T>(path, req), hooks);
}

/** Like `api`, for answers that are files (the CSV exports). */
export async function apiBlob(path: string, req: ApiRequest = {}): Promise<Blob> {
  return (await answer(path, req)).blob();
}

// While the API cannot be reached, this cheap public read is what asks again.
setProbe(() => api("/workshops"));

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return "Something went wrong. Try again in a moment.";
}
