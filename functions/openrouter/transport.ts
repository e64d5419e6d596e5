import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { HttpRequest } from "@smithy/core/protocols";
import { NodeHttpHandler, streamCollector } from "@smithy/node-http-handler";
import type { Readable } from "node:stream";

/**
 * One HTTP exchange with OpenRouter: the request out, the whole answer back, within one deadline.
 *
 * Over the AWS SDK's own Node HTTP handler (`@smithy/node-http-handler`, already in every bundle for
 * DynamoDB) and Node's `http`/`https` agents, not `fetch`: Node 20's `fetch` (undici) spent three
 * times the CPU per call (0.41 against 0.12 ms per POST /keys on loopback, `npx tsx
 * local/bench/per-call.ts`), a tenth of the API's CPU in a room's burst of claims (docs/performance.md).
 * The connections are one keep-alive pool per container, reused across invocations as `fetch`'s were.
 */

export interface Exchange {
  status: number;
  text: string;
  /** A response header by its lower-case name. */
  header(name: string): string | undefined;
}

export interface Outgoing {
  method: string;
  /** The API's base URL, parsed once per client; `path` is appended to its path. */
  base: URL;
  path: string;
  query?: Record<string, string>;
  headers: Record<string, string>;
  body?: string;
}

/** What an exchange that ran out of time throws: `name` "TimeoutError", as `fetch`'s did. */
export class ExchangeTimeoutError extends Error {
  override name = "TimeoutError";
}

// An idle connection is closed after 4 s, or 1 s before the server's own `Keep-Alive: timeout=N`
// when that is shorter (Node's agent honours the hint only when it has a `timeout` of its own), as
// `fetch` did: otherwise a request can be written to a connection the server is closing at that
// moment, fail with ECONNRESET and wait for a retry. (On a busy container the close arrives late.)
// For a socket in use the agent's timeout only emits an event nobody listens to: each exchange's
// deadline is its own (below).
const agentOptions = { keepAlive: true, maxSockets: 64, timeout: 4_000 };
const handler = new NodeHttpHandler({
  httpAgent: new HttpAgent(agentOptions),
  httpsAgent: new HttpsAgent(agentOptions),
  throwOnRequestTimeout: true,
});

export async function exchange(out: Outgoing, timeoutMs: number): Promise<Exchange> {
  const deadline = Date.now() + timeoutMs;
  const headers = out.body === undefined ? out.headers : { ...out.headers, "content-length": String(Buffer.byteLength(out.body)) };
  const { response } = await handler.handle(
    new HttpRequest({
      method: out.method,
      protocol: out.base.protocol,
      hostname: out.base.hostname,
      port: out.base.port ? Number(out.base.port) : undefined,
      path: (out.base.pathname === "/" ? "" : out.base.pathname) + out.path,
      query: out.query ?? {},
      headers,
      body: out.body,
    }),
    // Until the answer's headers: the handler destroys the request and throws a TimeoutError.
    { requestTimeout: timeoutMs },
  );
  // The rest of the deadline for the answer's body.
  const body = response.body as Readable;
  const timer = setTimeout(() => body.destroy(new ExchangeTimeoutError(`no complete answer within ${timeoutMs} ms`)), Math.max(1, deadline - Date.now()));
  try {
    const bytes = await streamCollector(body);
    const answerHeaders = response.headers;
    return { status: response.statusCode, text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"), header: (name) => answerHeaders[name] };
  } finally {
    clearTimeout(timer);
  }
}
