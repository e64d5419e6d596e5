import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll } from "vitest";

/**
 * Test helpers for anything that needs a signed-in attendee of a running local stack: the OIDC
 * flow a browser goes through (authorization code + PKCE, the dev sign-in form), driven over plain
 * HTTP with manual redirects and a cookie jar. No shortcut: the token comes from the real provider.
 */

export class SignInError extends Error {
  override name = "SignInError";
  constructor(message: string, readonly step: string, options?: { cause?: unknown }) {
    super(`${step}: ${message}`, options);
  }
}

/** The subset of /config.json the flow needs. */
interface StackAuthConfig {
  auth: { issuer: string; clientId: string; redirectUri: string; scope: string };
}

/** Name=value cookies, enough for one browser session against one origin. */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v] = a.split("=").map((s) => s.trim().toLowerCase());
        return (k === "max-age" && Number(v) <= 0) || (k === "expires" && Date.parse(v ?? "") < Date.now());
      });
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

const base64url = (b: Buffer) => b.toString("base64url");

export interface SignInOptions {
  name?: string;
  /** Gives up on a redirect chain longer than this. */
  maxRedirects?: number;
}

export interface SignInResult {
  idToken: string;
  accessToken: string;
  /** What the page trades for a new ID token before this one expires. */
  refreshToken: string;
  /** The claims of the ID token (decoded, not verified: the API verifies). */
  claims: Record<string, unknown>;
}

/** The ID token's claims, decoded (not verified: the API verifies). */
export function idTokenClaims(idToken: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(idToken.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

async function providerOf(stackUrl: string): Promise<{ clientId: string; tokenEndpoint: string; revocationEndpoint: string }> {
  const config = (await (await fetch(`${new URL(stackUrl).origin}/config.json`)).json()) as StackAuthConfig;
  const discovery = (await (await fetch(`${config.auth.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string; revocation_endpoint: string };
  return { clientId: config.auth.clientId, tokenEndpoint: discovery.token_endpoint, revocationEndpoint: discovery.revocation_endpoint };
}

/**
 * The refresh grant, as the page sends it (public client: no secret). Answers the HTTP status and
 * the token endpoint's JSON: new tokens, or `{error: "invalid_grant", …}`.
 */
export async function refreshTokens(stackUrl: string, refreshToken: string): Promise<{ status: number; body: Record<string, string> }> {
  const { clientId, tokenEndpoint } = await providerOf(stackUrl);
  const res = await fetch(tokenEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

/** Revokes a refresh token at the provider, as signing out does. */
export async function revokeToken(stackUrl: string, token: string): Promise<number> {
  const { clientId, revocationEndpoint } = await providerOf(stackUrl);
  const res = await fetch(revocationEndpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, token_type_hint: "refresh_token", client_id: clientId }).toString(),
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Signs `email` in to the stack at `stackUrl` (its origin) the way the SPA does and returns the
 * tokens. Each call is a fresh browser: no session is shared between calls.
 */
export async function signInWithTokens(stackUrl: string, email: string, opts: SignInOptions = {}): Promise<SignInResult> {
  const origin = new URL(stackUrl).origin;
  const jar = new CookieJar();
  const request = async (step: string, url: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    const cookie = jar.header();
    if (cookie) headers.set("cookie", cookie);
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers, redirect: "manual" });
    } catch (cause) {
      throw new SignInError(`could not reach ${url}`, step, { cause });
    }
    jar.store(res);
    return res;
  };

  const config = (await (await request("config", `${origin}/config.json`)).json()) as StackAuthConfig;
  const { issuer, clientId, redirectUri, scope } = config.auth;
  const discovery = (await (await request("discovery", `${issuer}/.well-known/openid-configuration`)).json()) as {
    authorization_endpoint: string;
    token_endpoint: string;
  };

  const verifier = base64url(randomBytes(32));
  const challenge = base64url(createHash("sha256").update(verifier).digest());
  const state = base64url(randomBytes(16));
  const nonce = base64url(randomBytes(16));
  const authorize = new URL(discovery.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: "code",
    scope,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();

  // Follow redirects by hand until the provider shows the sign-in form, submit it, and follow on
  // until the provider sends the browser back to the redirect URI with a code.
  let url = authorize.toString();
  let code: string | undefined;
  let submitted = false;
  for (let hop = 0; hop < (opts.maxRedirects ?? 12) && !code; hop++) {
    const res = await request(`hop ${hop}`, url);
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get("location")!, url);
      await res.arrayBuffer();
      if (next.toString().startsWith(redirectUri)) {
        if (next.searchParams.get("error")) {
          throw new SignInError(`${next.searchParams.get("error")}: ${next.searchParams.get("error_description")}`, "callback");
        }
        if (next.searchParams.get("state") !== state) throw new SignInError("state does not match", "callback");
        code = next.searchParams.get("code") ?? undefined;
        break;
      }
      url = next.toString();
      continue;
    }
    const body = await res.text();
    if (res.status !== 200 || submitted || !/<form[^>]+method="post"/i.test(body)) {
      throw new SignInError(`unexpected ${res.status} at ${url}: ${body.slice(0, 300)}`, "sign-in page");
    }
    const action = new URL(/<form[^>]+action="([^"]+)"/i.exec(body)?.[1]?.replace(/&amp;/g, "&") ?? url, url);
    const form = new URLSearchParams({ email, ...(opts.name ? { name: opts.name } : {}) });
    const posted = await request("sign-in form", action.toString(), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    if (posted.status < 300 || posted.status >= 400) {
      const page = await posted.text();
      const shown = /role="alert">([^<]*)</.exec(page)?.[1] ?? page.slice(0, 300);
      throw new SignInError(`the form answered ${posted.status}: ${shown}`, "sign-in form");
    }
    await posted.arrayBuffer();
    submitted = true;
    url = new URL(posted.headers.get("location")!, action).toString();
  }
  if (!code) throw new SignInError("no authorization code after following the redirects", "authorize");

  const tokenRes = await request("token", discovery.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri,
      client_id: clientId,
      code_verifier: verifier,
    }).toString(),
  });
  const tokens = (await tokenRes.json()) as { id_token?: string; access_token?: string; refresh_token?: string; error?: string; error_description?: string };
  if (!tokenRes.ok || !tokens.id_token) {
    throw new SignInError(`${tokenRes.status} ${tokens.error ?? ""} ${tokens.error_description ?? ""}`.trim(), "token");
  }
  const claims = idTokenClaims(tokens.id_token);
  if (claims.nonce !== nonce) throw new SignInError("the ID token's nonce does not match", "token");
  return { idToken: tokens.id_token, accessToken: tokens.access_token ?? "", refreshToken: tokens.refresh_token ?? "", claims };
}

/** Signs `email` in to the stack at `stackUrl` and returns the ID token (what the API takes as Bearer). */
export async function signIn(stackUrl: string, email: string, opts: SignInOptions = {}): Promise<string> {
  return (await signInWithTokens(stackUrl, email, opts)).idToken;
}

/** One request to the stack's API with an ID token, as the page sends it: the status and the JSON answer. */
export async function callApi(stackUrl: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${stackUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

/**
 * The same sign-in in a browser page that is on its way to the local provider: waits for the
 * provider's form, fills it in (the name only when given) and submits it, as a person would.
 */
export async function signInOnProvider(page: Page, email: string, name?: string): Promise<void> {
  await page.waitForURL((u) => u.pathname.startsWith("/oidc"));
  await page.fill("#email", email);
  if (name) await page.fill("#name", name);
  await page.click("button[type=submit]");
}

/**
 * `npm start` with these arguments, as a person runs it (no OpenRouter management key in its
 * environment unless `env` gives one): its process, everything it printed so far, and its exit.
 */
export function spawnNpmStart(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", "local/start.ts", ...args], {
    cwd: join(import.meta.dirname, ".."),
    env: { ...process.env, OPENROUTER_MANAGEMENT_KEY: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}

/** The URL `npm start` prints once it is ready; looked for every 20 ms, so a test can time the wait. */
export async function waitForRunningUrl(cli: ReturnType<typeof spawnNpmStart>): Promise<string> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && cli.child.exitCode === null) {
    const url = /running at (http:\/\/\S+)/.exec(cli.output())?.[1];
    if (url) return url;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`npm start did not come up: ${cli.output().slice(-1500)}`);
}

/** For one test file: makes temporary directories (`tempDir("wkm-x-")`), all removed after the file. */
export function tempDirs(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
}

/** A port nothing listens on right now (on `host`), for a server that must be started on a known port. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export { workshopFileAround, writeWorkshopFiles } from "./workshop-files.js";
