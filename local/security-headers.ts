import type { ServerResponse } from "node:http";

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

export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
}
