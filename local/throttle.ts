/**
 * API Gateway's stage throttle, for the local stack (`npm start -- --throttle <rate>,<burst>`): a
 * token bucket that holds `burst` requests, starts full and refills at `ratePerSecond`; a request
 * that finds it empty is answered as the gateway answers it, 429 `{"message":"Too Many Requests"}`
 * with no Retry-After, and never reaches the API. Off unless asked for.
 */

export interface ThrottleSettings {
  ratePerSecond: number;
  burst: number;
}

export class ThrottleOptionError extends Error {
  override name = "ThrottleOptionError";
}

export interface TokenBucket {
  /** Takes one token; false when the bucket is empty (the request is throttled). */
  take(): boolean;
}

export function createTokenBucket(settings: ThrottleSettings, now: () => number = () => performance.now()): TokenBucket {
  let tokens = settings.burst;
  let last = now();
  return {
    take() {
      const t = now();
      tokens = Math.min(settings.burst, tokens + ((t - last) / 1000) * settings.ratePerSecond);
      last = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

/** `--throttle 200,500`: requests a second, then the burst (a whole number, at least 1). */
export function parseThrottle(text: string): ThrottleSettings {
  const m = /^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+)\s*$/.exec(text);
  const ratePerSecond = m ? Number(m[1]) : Number.NaN;
  const burst = m ? Number(m[2]) : Number.NaN;
  if (!(ratePerSecond > 0) || !(burst >= 1)) {
    throw new ThrottleOptionError(`--throttle must be <requests per second>,<burst>, e.g. --throttle 200,500 (got ${JSON.stringify(text)})`);
  }
  return { ratePerSecond, burst };
}

/** What API Gateway answers a throttled request: exactly its shape. */
export function gatewayTooManyRequests(): Response {
  return new Response(JSON.stringify({ message: "Too Many Requests" }), { status: 429, headers: { "content-type": "application/json" } });
}
