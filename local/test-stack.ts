import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSign, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { WorkshopSchema, type Workshop, type WorkshopInput } from "../workshops/schema.js";
import type { GovernanceMode } from "../workshops/derive.js";
import { startEmulator, type RunningEmulator } from "./emulator/index.js";
import { startLocalDynamo, ensureTables, type LocalDynamo } from "./dynamo.js";
import { createTokenVerifier } from "../functions/auth/verify.js";
import { createStore, type Store } from "../functions/data/store.js";
import { tableNames, type TableNames } from "../functions/data/tables.js";
import { createClaimEngine, type ClaimEngine } from "../functions/domain/claims.js";
import { createWorkshopCatalog, type WorkshopCatalog } from "../functions/domain/workshops.js";
import { createOpenRouterClient, type OpenRouterClientOptions } from "../functions/openrouter/client.js";
import type { OpenRouterClient } from "../functions/openrouter/types.js";
import { createApp } from "../functions/api/app.js";

/**
 * Test support: the real parts on loopback (dynalite, the OpenRouter emulator, a JWKS endpoint
 * serving a local key pair) wired the way the Lambda wires them. Not a test file itself.
 */

export const TEST_ISSUER_PATH = "/issuer";
export const TEST_CLIENT_ID = "wkm-test-client";

/** A local identity provider: an RSA key pair whose public half is served as a JWKS on loopback. */
export interface TestIssuer {
  issuer: string;
  jwksUri: string;
  /** Signs an ID token with sensible defaults; `claims` override or (undefined) remove them. */
  sign(claims: Record<string, unknown>, opts?: { key?: KeyObject; kid?: string; header?: Record<string, unknown> }): string;
  /** A signed ID token for a user with a verified email. */
  tokenFor(user: { sub: string; email?: string; groups?: string[]; name?: string; emailVerified?: boolean }): string;
  close(): Promise<void>;
}

const b64url = (x: string | Buffer) => Buffer.from(x).toString("base64url");

export async function startTestIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = "test-key-1";
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" }] });
  const server: Server = createServer((req, res) => {
    if (req.url === `${TEST_ISSUER_PATH}/.well-known/jwks.json`) {
      res.writeHead(200, { "content-type": "application/json" }).end(jwks);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${origin}${TEST_ISSUER_PATH}`;

  const sign: TestIssuer["sign"] = (claims, opts = {}) => {
    const nowS = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = { iss: issuer, aud: TEST_CLIENT_ID, token_use: "id", iat: nowS, exp: nowS + 3600, ...claims };
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    const header = { alg: "RS256", typ: "JWT", kid: opts.kid ?? kid, ...opts.header };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const signature = createSign("RSA-SHA256").update(input).sign(opts.key ?? privateKey);
    return `${input}.${b64url(signature)}`;
  };

  return {
    issuer,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    sign,
    tokenFor: (u) =>
      sign({
        sub: u.sub,
        email: u.email,
        email_verified: u.emailVerified ?? true,
        name: u.name,
        "cognito:groups": u.groups,
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A valid workshop whose claim window is open around `nowMs` unless overridden. */
export function testWorkshop(slug: string, nowMs: number, overrides: Partial<Omit<WorkshopInput, "openrouter">> & { openrouter?: Partial<WorkshopInput["openrouter"]> } = {}): Workshop {
  const at = (deltaMin: number) => new Date(nowMs + deltaMin * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
  const { openrouter, ...rest } = overrides;
  return WorkshopSchema.parse({
    slug,
    name: `Workshop ${slug}`,
    event: "Test Conf",
    location: "Room 1",
    starts_at: at(30),
    ends_at: at(180),
    claims_open_at: at(-60),
    claims_close_at: at(120),
    is_active: true,
    organizers: ["organizer@example.com"],
    ...rest,
    openrouter: {
      budget_usd: 2,
      key_label_prefix: "test",
      expires_buffer_minutes: 30,
      models: [{ id: "openai/gpt-5-nano", label: "GPT-5 nano", price_in_per_mtok: 0.05, price_out_per_mtok: 0.4 }],
      guardrail: { cap_usd: 800, reset_interval: "monthly", max_keys: 300 },
      ...openrouter,
    },
  });
}

/**
 * The API Lambda's parts on loopback: dynalite, the OpenRouter emulator and a JWKS issuer, with the
 * store, the workshop catalogue, the OpenRouter client, the claim engine and the Hono app wired as
 * functions/api/handler.ts wires them. The test stack and the bench rig (local/bench/rig.ts) build
 * on it, each with its own client settings.
 */
export interface ApiParts {
  dynamo: LocalDynamo;
  upstream: RunningEmulator;
  issuer: TestIssuer;
  names: TableNames;
  store: Store;
  workshops: WorkshopCatalog;
  openrouter: OpenRouterClient;
  engine: ClaimEngine;
  app: ReturnType<typeof createApp>;
  now: () => number;
  close(): Promise<void>;
}

export interface ApiPartsOptions {
  /** Start of the tables' names; a random suffix keeps runs in one process apart. */
  tablePrefix: string;
  /** Seed for the emulator's fault dice (default 1). */
  seed?: number;
  /** The OpenRouter client's timeouts, retries and call counter (its key and URL are the emulator's). */
  client: Omit<OpenRouterClientOptions, "apiKey" | "serverURL">;
  now?: () => number;
  leaseMs?: number;
  waitMs?: number;
  /** How the engine governs keys (default "assignment"); "workspace" runs the emulator as an organization's account. */
  governance?: GovernanceMode;
  /** The emulator's account (default: "organization" under governance "workspace", else personal). */
  accountKind?: "personal" | "organization";
  /** Structured events of the app and the engine. */
  log: (event: string, fields: Record<string, unknown>) => void;
}

export async function startApiParts(opts: ApiPartsOptions): Promise<ApiParts> {
  const [dynamo, upstream, issuer] = await Promise.all([startLocalDynamo(), startEmulator({ port: 0, seed: opts.seed ?? 1, accountKind: opts.accountKind ?? (opts.governance === "workspace" ? "organization" : undefined) }), startTestIssuer()]);
  const names = tableNames(`${opts.tablePrefix}${randomUUID().slice(0, 8)}`);
  await ensureTables(dynamo.client, names);
  const now = opts.now ?? Date.now;
  const { log } = opts;
  const store = createStore({ client: dynamo.client, tableNames: names });
  const workshops = createWorkshopCatalog({ store, ttlMs: 30_000 });
  const openrouter = createOpenRouterClient({ apiKey: upstream.managementKey, serverURL: upstream.url, ...opts.client });
  const engine = createClaimEngine({ store, openrouter, workshops, now, leaseMs: opts.leaseMs, waitMs: opts.waitMs, governance: opts.governance, log });
  const app = createApp({
    store,
    engine,
    workshops,
    verifyToken: createTokenVerifier({ issuer: issuer.issuer, clientId: TEST_CLIENT_ID, jwksUri: issuer.jwksUri }),
    now,
    attendeeBaseUrl: upstream.url,
    log,
  });
  return {
    dynamo,
    upstream,
    issuer,
    names,
    store,
    workshops,
    openrouter,
    engine,
    app,
    now,
    async close() {
      await Promise.all([dynamo.close(), upstream.close(), issuer.close()]);
    },
  };
}

export interface TestStack extends ApiParts {
  /** Structured events the app and the engine logged (never a key). */
  events: { event: string; fields: Record<string, unknown> }[];
  /** Writes the workshop item and the workshop index, as the deploy does (no guardrail id unless given). */
  addWorkshop(w: Workshop, guardrailId?: string): Promise<void>;
  /** A signed-in, confirmed attendee (the confirm step written directly). */
  attendee(email: string, opts?: { sub?: string; name?: string }): Promise<{ sub: string; token: string }>;
  /** A request to the app, as the browser sends it. */
  call(method: string, path: string, token?: string, body?: unknown): Promise<Response>;
}

export async function startTestStack(
  opts: { leaseMs?: number; waitMs?: number; now?: () => number } & Pick<ApiPartsOptions, "governance" | "accountKind"> = {},
): Promise<TestStack> {
  const events: TestStack["events"] = [];
  const parts = await startApiParts({
    tablePrefix: "t",
    client: { timeoutMs: 5_000, maxAttempts: 2, totalBudgetMs: 8_000, retryBaseDelayMs: 20, retryMaxDelayMs: 100 },
    now: opts.now,
    leaseMs: opts.leaseMs,
    waitMs: opts.waitMs,
    governance: opts.governance,
    accountKind: opts.accountKind,
    log: (event, fields) => void events.push({ event, fields }),
  });
  const { store, workshops, issuer, app, now } = parts;
  const added = new Map<string, Workshop>();

  return {
    ...parts,
    events,
    async addWorkshop(w, guardrailId) {
      await store.putWorkshop(w.slug, { config: w, guardrail_id: guardrailId }, now());
      added.set(w.slug, w);
      await store.putCatalog([...added.values()], now());
      workshops.invalidate();
    },
    async attendee(email, o = {}) {
      const sub = o.sub ?? randomUUID();
      await store.confirmProfile(sub, { displayName: o.name ?? email.split("@")[0] }, now());
      return { sub, token: issuer.tokenFor({ sub, email }) };
    },
    call(method, path, token, body) {
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      return Promise.resolve(
        app.request(path, { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) }),
      );
    },
  };
}

/** An API Gateway HTTP API (payload v2) event, as the API Lambda receives it. */
export function apiGatewayEvent(method: string, path: string, opts: { token?: string; body?: string; headers?: Record<string, string> } = {}) {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: {
      host: "api.example.com",
      "content-type": "application/json",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    } as Record<string, string>,
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "vitest" },
      requestId: "req",
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: opts.body,
    isBase64Encoded: false,
  };
}

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Claims a key in a separate process (local/bench/claim-then-die.ts) and SIGKILLs it at `dieAt`:
 * "mint" the moment OpenRouter has answered POST /keys, "store" once the key is assigned to the
 * workshop's guardrail and before it is stored (the claim RESERVED in both). Answers the key's hash
 * and the signal.
 */
export function claimUntilKilled(opts: {
  dynamoEndpoint: string;
  tables: { attendees: string; workshops: string };
  openrouterUrl: string;
  managementKey: string;
  slug: string;
  userId: string;
  leaseMs: number;
  dieAt: "mint" | "store";
}): Promise<{ hash: string; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "local/bench/claim-then-die.ts")], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        BENCH_DYNAMO_ENDPOINT: opts.dynamoEndpoint,
        BENCH_TABLES: JSON.stringify(opts.tables),
        BENCH_OPENROUTER_URL: opts.openrouterUrl,
        OPENROUTER_MANAGEMENT_KEY: opts.managementKey,
        BENCH_SLUG: opts.slug,
        BENCH_USER_ID: opts.userId,
        BENCH_EMAIL: `${opts.userId}@example.com`,
        BENCH_LEASE_MS: String(opts.leaseMs),
        BENCH_DIE_AT: opts.dieAt,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let hash = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^minted (\S+)$/m.exec(out);
      if (m && !hash) {
        hash = m[1]!;
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("exit", (_code, signal) => {
      if (!hash) reject(new Error(`the claiming process ended before ${opts.dieAt}: ${err.replace(/sk-or-v1-[0-9a-f]+/g, "sk-or-v1-<redacted>").slice(0, 800)}`));
      else resolve({ hash, signal });
    });
  });
}
