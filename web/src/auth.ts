import * as oauth from "oauth4webapi";
import { loadConfig } from "./site-data.js";
import type { SiteConfig } from "./types.js";

/**
 * Sign-in with OpenID Connect: authorization code + PKCE against the issuer in /config.json
 * (Cognito in the cloud, the local provider on `npm start`). The ID token is what the API wants as
 * its Bearer token. It lives an hour; the refresh token that comes with it (a public client's, so
 * it is rotated or revoked by the issuer, never kept past the tab) is traded for a new one before it
 * expires and whenever the API answers 401, so one sign-in lasts the workshop day. Both live in
 * sessionStorage: they survive the reload an attendee does to check their key is still there, and
 * are gone when the tab is closed on a shared laptop. When a refresh is refused (the day is over,
 * the session was revoked) the page says so instead of quietly showing the sign-in button again.
 */

const SESSION_KEY = "wkm.session";
const ENDED_KEY = "wkm.session-ended";
const PENDING_KEY = "wkm.pending-sign-in";
// Refresh when this share of the ID token's life is left (at most 5 minutes before it lapses), and
// treat it as expired a little early, so a request never leaves with a token about to lapse.
const REFRESH_WHEN_LEFT = 0.25;
const REFRESH_AT_MOST_MS = 5 * 60_000;
const EXPIRY_MARGIN_MS = 30_000;

export interface Session {
  idToken: string;
  /** Who is signed in: stays the same across refreshes, while the ID token changes. */
  sub: string;
  email: string;
  name: string;
  /** When the ID token expires, on this browser's clock (its lifetime counted from when it arrived). */
  expiresAt: number;
  /** When to trade the refresh token for a new ID token. */
  refreshAt?: number;
  /** Absent when the issuer gave none: the session then ends with the ID token. */
  refreshToken?: string;
}

interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

export class SignInError extends Error {
  override name = "SignInError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const listeners = new Set<() => void>();

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify(): void {
  for (const l of listeners) l();
}

function readSession(): Session | null {
  const raw = sessionStorage.getItem(SESSION_KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    // A corrupt entry is the same as no session.
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }
}

/** The signed-in session: one whose ID token is still good, or which can get a new one. */
export function currentSession(now = Date.now()): Session | null {
  const session = readSession();
  if (!session) return null;
  if (session.refreshToken || session.expiresAt - EXPIRY_MARGIN_MS > now) return session;
  endSession();
  return null;
}

/** True after a session ended by itself (refresh refused), until the visitor signs in or out. */
export function sessionEnded(): boolean {
  return sessionStorage.getItem(ENDED_KEY) !== null;
}

/** The session is over (the issuer refused to refresh it): forget it and remember to say so. */
export function endSession(): void {
  const had = sessionStorage.getItem(SESSION_KEY) !== null;
  sessionStorage.removeItem(SESSION_KEY);
  if (had) sessionStorage.setItem(ENDED_KEY, "1");
  notify();
}

function sessionFrom(idToken: string, claims: oauth.IDToken, refreshToken: string | undefined, receivedAt = Date.now()): Session {
  // The token's lifetime counted on this browser's clock, which may be minutes off the issuer's.
  const lifetimeMs = Math.max(0, (claims.exp - claims.iat) * 1000);
  const expiresAt = receivedAt + lifetimeMs;
  return {
    idToken,
    sub: claims.sub,
    email: typeof claims.email === "string" ? claims.email : "",
    name: typeof claims.name === "string" ? claims.name : "",
    expiresAt,
    refreshAt: expiresAt - Math.min(REFRESH_AT_MOST_MS, lifetimeMs * REFRESH_WHEN_LEFT),
    ...(refreshToken ? { refreshToken } : {}),
  };
}

function saveSession(session: Session): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  sessionStorage.removeItem(ENDED_KEY);
  notify();
}

let refreshing: Promise<Session | null> | undefined;

/**
 * Trades the refresh token for a new ID token (one at a time, whoever asks). Answers the new
 * session, or null when the issuer refused (the session is then ended). A network failure throws
 * and keeps the session: the next try may get through.
 */
export function refreshSession(): Promise<Session | null> {
  refreshing ??= (async () => {
    const session = readSession();
    if (!session?.refreshToken) return null;
    const config = await loadConfig();
    const client: oauth.Client = { client_id: config.auth.clientId };
    const as = await discoverIssuer();
    const receivedAt = Date.now();
    let tokens: oauth.TokenEndpointResponse;
    try {
      const res = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), session.refreshToken, insecureAllowed(config));
      tokens = await oauth.processRefreshTokenResponse(as, client, res);
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError || err instanceof oauth.OperationProcessingError) {
        endSession();
        return null;
      }
      throw err;
    }
    const claims = oauth.getValidatedIdTokenClaims(tokens);
    if (!tokens.id_token || !claims) {
      endSession();
      return null;
    }
    // Both issuers rotate refresh tokens (the deployed Cognito client has rotation on,
    // infra/auth.ts; the local provider always does): keep each new one, since the old one stops
    // working after a short grace. An issuer that does not rotate sends none: keep the one we have.
    const next = sessionFrom(tokens.id_token, claims, tokens.refresh_token ?? session.refreshToken, receivedAt);
    saveSession(next);
    return next;
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

/**
 * The ID token to send: refreshed first when it is due. Null when there is no session (any more).
 * A refresh that fails on the network sends the current token while it is still good.
 */
export async function freshIdToken(now = Date.now()): Promise<string | null> {
  const session = currentSession(now);
  if (!session) return null;
  if (!session.refreshToken || now < (session.refreshAt ?? session.expiresAt - EXPIRY_MARGIN_MS)) return session.idToken;
  try {
    return (await refreshSession())?.idToken ?? null;
  } catch {
    return session.expiresAt - EXPIRY_MARGIN_MS > Date.now() ? session.idToken : null;
  }
}

let keeper: ReturnType<typeof setTimeout> | undefined;

/**
 * Keeps the session fresh while the page is open (the projector runs for hours without a click):
 * a refresh is due at `refreshAt`, and checked again whenever the tab becomes visible, since
 * browsers hold timers back in hidden tabs.
 */
export function keepSessionFresh(): void {
  const schedule = () => {
    clearTimeout(keeper);
    const session = readSession();
    if (!session?.refreshToken) return;
    const due = (session.refreshAt ?? session.expiresAt) - Date.now();
    keeper = setTimeout(() => {
      // A network failure keeps the session; try again in half a minute.
      void freshIdToken().catch(() => undefined).finally(() => (readSession()?.refreshToken ? (keeper = setTimeout(schedule, 30_000)) : undefined));
    }, Math.max(1_000, due));
  };
  onSessionChange(schedule);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void freshIdToken().catch(() => undefined);
  });
  schedule();
}

function insecureAllowed(config: SiteConfig): Record<symbol, boolean> {
  // The local provider speaks plain HTTP: on loopback, and on a room network when the local stack
  // rehearses there (its issuer is then the page's own origin). Everything else must be HTTPS.
  const local = new URL(config.auth.issuer);
  const loopback = local.hostname === "127.0.0.1" || local.hostname === "localhost" || local.hostname === "[::1]";
  const sameLocalStack = config.mode !== "cloud" && local.origin === location.origin;
  return (loopback || sameLocalStack) && local.protocol === "http:" ? { [oauth.allowInsecureRequests]: true } : {};
}

/**
 * The PKCE S256 challenge. A page served over plain HTTP off loopback (the local stack on a room
 * network) is not a secure context and has no `crypto.subtle`; it hashes with a small library,
 * loaded only there.
 */
async function codeChallenge(verifier: string): Promise<string> {
  if (globalThis.crypto?.subtle) return oauth.calculatePKCECodeChallenge(verifier);
  const { sha256 } = await import("@noble/hashes/sha2.js");
  let binary = "";
  for (const byte of sha256(new TextEncoder().encode(verifier))) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

let discovery: Promise<oauth.AuthorizationServer> | undefined;
const DISCOVERY_KEY = "wkm.issuer-metadata";

/**
 * The issuer's metadata: fetched early, when a sign-in button shows, and kept for the tab so the
 * return to /callback does not wait for it again.
 */
export function discoverIssuer(): Promise<oauth.AuthorizationServer> {
  discovery ??= loadConfig().then(async (config) => {
    const kept = JSON.parse(sessionStorage.getItem(DISCOVERY_KEY) ?? "null") as { for: string; as: oauth.AuthorizationServer } | null;
    if (kept?.for === config.auth.issuer) return kept.as;
    const issuer = new URL(config.auth.issuer);
    const res = await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...insecureAllowed(config) });
    const as = await oauth.processDiscoveryResponse(issuer, res);
    sessionStorage.setItem(DISCOVERY_KEY, JSON.stringify({ for: config.auth.issuer, as }));
    return as;
  });
  discovery.catch(() => {
    discovery = undefined; // let the next click try again
  });
  return discovery;
}

/** Sends the browser to the sign-in page; it comes back to /callback and then to `returnTo`. */
export async function signIn(returnTo: string): Promise<void> {
  const config = await loadConfig();
  let as: oauth.AuthorizationServer;
  try {
    as = await discoverIssuer();
  } catch (cause) {
    throw new SignInError("The sign-in service could not be reached. Check your connection and try again.", { cause });
  }
  if (!as.authorization_endpoint) throw new SignInError("The sign-in service did not say where to sign in.");
  const pending: PendingSignIn = {
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    codeVerifier: oauth.generateRandomCodeVerifier(),
    returnTo,
  };
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set("client_id", config.auth.clientId);
  url.searchParams.set("redirect_uri", config.auth.redirectUri);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", config.auth.scope);
  url.searchParams.set("state", pending.state);
  url.searchParams.set("nonce", pending.nonce);
  url.searchParams.set("code_challenge", await codeChallenge(pending.codeVerifier));
  url.searchParams.set("code_challenge_method", "S256");
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  location.assign(url.href);
}

/** Finishes the sign-in on /callback; returns where the visitor wanted to go. */
export async function completeSignIn(callbackUrl: URL): Promise<string> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  if (!raw) throw new SignInError("This sign-in link was already used or has expired. Please sign in again.");
  const pending = JSON.parse(raw) as PendingSignIn;
  sessionStorage.removeItem(PENDING_KEY);
  const config = await loadConfig();
  const client: oauth.Client = { client_id: config.auth.clientId };
  try {
    const as = await discoverIssuer();
    const params = oauth.validateAuthResponse(as, client, callbackUrl, pending.state);
    const res = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      config.auth.redirectUri,
      pending.codeVerifier,
      insecureAllowed(config),
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, res, {
      expectedNonce: pending.nonce,
      requireIdToken: true,
    });
    const claims = oauth.getValidatedIdTokenClaims(tokens);
    if (!tokens.id_token || !claims) throw new SignInError("The sign-in service returned no ID token.");
    saveSession(sessionFrom(tokens.id_token, claims, tokens.refresh_token));
    return pending.returnTo;
  } catch (cause) {
    if (cause instanceof SignInError) throw cause;
    const detail = cause instanceof oauth.AuthorizationResponseError ? ` (${cause.error})` : "";
    throw new SignInError(`Sign-in did not complete${detail}. Please try again.`, { cause });
  }
}

export async function signOut(): Promise<void> {
  const config = await loadConfig();
  const session = readSession();
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(ENDED_KEY);
  notify();
  // The refresh token would otherwise outlive the sign-out (it is not tied to the issuer's cookie).
  if (session?.refreshToken) await revokeRefreshToken(config, session.refreshToken);
  if (config.auth.logoutUri) location.assign(config.auth.logoutUri);
}

/** Best effort, briefly: a sign-out never waits long on an issuer that does not answer. */
async function revokeRefreshToken(config: SiteConfig, token: string): Promise<void> {
  try {
    const discovered = await discoverIssuer();
    // Cognito has a revocation endpoint (next to its token endpoint) but does not list it in discovery.
    const endpoint = discovered.revocation_endpoint ?? discovered.token_endpoint?.replace(/\/oauth2\/token$/, "/oauth2/revoke");
    if (!endpoint || endpoint === discovered.token_endpoint) return;
    const as = { ...discovered, revocation_endpoint: endpoint };
    const res = await oauth.revocationRequest(as, { client_id: config.auth.clientId }, oauth.None(), token, {
      ...insecureAllowed(config),
      signal: AbortSignal.timeout(3_000),
    });
    await oauth.processRevocationResponse(res);
  } catch {
    // The token still ends with its own lifetime.
  }
}
