import type { ServerResponse } from "node:http";
import { isLoopbackHost } from "./hosts.js";

/**
 * The headers every response of the local stack carries: the same policy CloudFront adds in the
 * cloud. Scripts and styles only from this origin (no inline code, so an injected `<script>` in a
 * workshop's welcome message cannot run), no framing, no MIME sniffing, no full-URL referrers.
 */

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: https:",
  // The key page may try the key against OpenRouter straight from the browser in real mode.
  "connect-src 'self' https://openrouter.ai",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "strict-origin-when-cross-origin",
  "cross-origin-opener-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
};

/**
 * The headers for a response to a request that named `host`. Over plain HTTP off loopback (a
 * room-network rehearsal) the browser ignores Cross-Origin-Opener-Policy and says so on the console,
 * so it is left out there; everything else always applies.
 */
export function securityHeadersFor(host: string | undefined): Readonly<Record<string, string>> {
  if (host === undefined || isLoopbackHost(host.replace(/:\d+$/, ""))) return SECURITY_HEADERS;
  const { "cross-origin-opener-policy": _ignoredOffLoopback, ...rest } = SECURITY_HEADERS;
  return rest;
}

export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(securityHeadersFor(res.req?.headers.host))) res.setHeader(name, value);
}
