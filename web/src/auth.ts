import * as oauth from "oauth4webapi";
import { loadConfig } from "./site-data.js";
import type { SiteConfig } from "./types.js";

/**
 * Sign-in with OpenID Connect: authorization code + PKCE against the issuer in /config.json
 * (Cognito in the cloud, the local provider on `npm start`). The ID token is what the API wants as
 * its Bearer token. It lives in sessionStorage: it survives the reload an attendee does to check
 * their key is still there, and is gone when the tab is closed on a shared laptop.
 */

const SESSION_KEY = "wkm.session";
const PENDING_KEY = "wkm.pending-sign-in";
// Treat a token as expired a little early so a request never leaves with one about to lapse.
const EXPIRY_MARGIN_MS = 30_000;

export interface Session {
  idToken: string;
  email: string;
  name: string;
  expiresAt: number;
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

export function currentSession(now = Date.now()): Session | null {
  const raw = sessionStorage.getItem(SESSION_KEY);
  if (!raw) return null;
  try {
    const session = JSON.parse(raw) as Session;
    if (session.expiresAt - EXPIRY_MARGIN_MS > now) return session;
  } catch {
    // A corrupt entry is the same as no session.
  }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

/** Forgets the session (e.g. after the API answered 401) without leaving the page. */
export function dropSession(): void {
  sessionStorage.removeItem(SESSION_KEY);
  notify();
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
    const session: Session = {
      idToken: tokens.id_token,
      email: typeof claims.email === "string" ? claims.email : "",
      name: typeof claims.name === "string" ? claims.name : "",
      expiresAt: claims.exp * 1000,
    };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    notify();
    return pending.returnTo;
  } catch (cause) {
    if (cause instanceof SignInError) throw cause;
    const detail = cause instanceof oauth.AuthorizationResponseError ? ` (${cause.error})` : "";
    throw new SignInError(`Sign-in did not complete${detail}. Please try again.`, { cause });
  }
}

export async function signOut(): Promise<void> {
  const config = await loadConfig();
  sessionStorage.removeItem(SESSION_KEY);
  notify();
  if (config.auth.logoutUri) location.assign(config.auth.logoutUri);
}
