import type { Fetcher } from "aws-jwt-verify/https";
import { NonRetryableFetchError } from "aws-jwt-verify/error";

/**
 * aws-jwt-verify's default fetcher speaks HTTPS only. The local OpenID provider serves its JWKS over
 * plain HTTP on loopback, so this fetcher allows http: for loopback hosts and HTTPS for everyone
 * else — a JWKS fetched over the network in clear text could be swapped.
 */
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

export function isAllowedJwksUri(uri: string): boolean {
  const u = new URL(uri);
  return u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname));
}

export class LoopbackAwareFetcher implements Fetcher {
  constructor(private readonly timeoutMs = 3_000) {}

  async fetch(uri: string): Promise<ArrayBuffer> {
    if (!isAllowedJwksUri(uri)) throw new NonRetryableFetchError(uri, "JWKS must be fetched over https (http only on loopback)");
    const res = await fetch(uri, { signal: AbortSignal.timeout(this.timeoutMs), redirect: "error" });
    if (res.status !== 200) throw new NonRetryableFetchError(uri, `Status code is ${res.status}, expected 200`);
    return res.arrayBuffer();
  }
}
