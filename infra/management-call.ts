/**
 * What the two OpenRouter dynamic providers (guardrail.ts, workspace.ts) share: one Management API
 * call with a bounded retry, and allow-lists compared the way OpenRouter matches them.
 *
 * Pulumi serializes each provider with every function it references and runs that text later in its
 * own provider host, so these reference only globals (`fetch`, `process`, `AbortSignal`,
 * `setTimeout`) and never capture the management key: it is read from OPENROUTER_MANAGEMENT_KEY in
 * the environment of `pulumi up` at each call.
 */

export interface UpstreamResponse {
  status: number;
  body: unknown;
}

/**
 * One Management API call, with a bounded retry (4 attempts, 0.5-5 s apart) on 429 and 5xx, and on
 * network errors for everything but POST: a POST whose answer was lost may have created the resource,
 * and the next `pulumi up` adopts it rather than making a second one. `fail` makes the provider's own
 * error (its one family) from a message; messages carry the status and upstream's message, never the
 * request headers.
 */
export async function callManagementApi(
  baseUrl: string,
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  fail: (message: string, cause?: unknown) => Error,
  body?: unknown,
): Promise<UpstreamResponse> {
  const key = process.env.OPENROUTER_MANAGEMENT_KEY;
  if (!key) {
    throw fail(
      "no OpenRouter management key; set OPENROUTER_MANAGEMENT_KEY in the environment of `pulumi up` (in GitHub Actions: the production environment's secret of that name)",
    );
  }
  const url = baseUrl.replace(/\/+$/, "") + path;
  const attempts = 4;
  let lastProblem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (cause) {
      lastProblem = `${method} ${path} failed: ${(cause as Error).message}`;
      if (attempt < attempts && method !== "POST") {
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        continue;
      }
      throw fail(lastProblem, cause);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if ((res.status === 429 || res.status >= 500) && attempt < attempts) {
      const retryAfter = Number(res.headers.get("retry-after"));
      lastProblem = `${method} ${path} answered ${res.status}`;
      await new Promise((r) => setTimeout(r, Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 5_000) : 250 * 2 ** attempt));
      continue;
    }
    return { status: res.status, body: parsed };
  }
  throw fail(lastProblem);
}

/** Upstream's error message as `: <message>`, or nothing when its answer has none. */
export function upstreamDetail(res: UpstreamResponse): string {
  const body = res.body as { error?: { message?: unknown } } | undefined;
  return typeof body?.error?.message === "string" ? `: ${body.error.message}` : "";
}

/** Allow-lists compared as sets of ids, case and surrounding space aside (how OpenRouter matches them). */
export function sameModels(a: readonly string[], b: readonly string[]): boolean {
  const canonical = (list: readonly string[]) => [...new Set(list.map((m) => m.trim().toLowerCase()))].sort();
  const x = canonical(a);
  const y = canonical(b);
  return x.length === y.length && x.every((m, i) => m === y[i]);
}
