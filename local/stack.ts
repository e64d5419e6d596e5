import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DescribeTableCommand, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { createStore, type Store } from "../functions/data/store.js";
import { tableNames as defaultTableNames, workshopConfigKey, type TableNames } from "../functions/data/tables.js";
import { createOpenRouterClient, DEFAULT_OPENROUTER_URL } from "../functions/openrouter/client.js";
import type { OpenRouterClient } from "../functions/openrouter/types.js";
import { claimWindow, DEFAULT_GOVERNANCE, guardrailSpec, KEY_NAMESPACE_PATTERN, type GovernanceMode } from "../workshops/derive.js";
import { workspaceSpec } from "../workshops/workspace.js";
import { loadWorkshops } from "../workshops/load.js";
import type { Workshop } from "../workshops/schema.js";
import { createStackClock, type StackClock } from "./clock.js";
import { DEMO_SLUG, loadOrCreateDemoWorkshop } from "./demo.js";
import { DamagedDatabaseError, DatabaseInUseError, ensureTables, startLocalDynamo, type LocalDynamo } from "./dynamo.js";
import { createEmulator, EmulatorDataError } from "./emulator/index.js";
import { ADMIN_GROUP, createLocalOidc, LocalOidcError, OIDC_MOUNT_PATH, OIDC_SCOPE, type LocalOidc } from "./oidc.js";
import { startScheduler, type LocalScheduler } from "./scheduler.js";
import { securityHeadersFor, setSecurityHeaders } from "./security-headers.js";
import { answersMethod, HostCheck, isLoopbackHost, serverOrigins } from "./hosts.js";
import { ensureSiteBuilt, serveSiteFile } from "./site.js";
import { createLocalApi } from "./api.js";
import { createTokenBucket, gatewayTooManyRequests, type ThrottleSettings } from "./throttle.js";

/**
 * The whole product on one machine, in one process, on one port:
 *
 *   /                 the built web site (index.html for the app's routes)
 *   /config.json      what the page needs: API URL, sign-in issuer and client, mode
 *   /api/...          the same Hono app the API Lambda runs
 *   /oidc/...         the local OpenID provider (dev sign-in form)
 *   /openrouter/...   the OpenRouter emulator (base URL <origin>/openrouter/api/v1)
 *   /healthz          200 once every part is up
 *
 * plus an in-process DynamoDB (dynalite, its own loopback port) and the scheduler. Everything that
 * must survive a restart lives in the data folder.
 */

export const DEFAULT_PORT = 8787;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DEFAULT_DATA_DIR = join(REPO_ROOT, ".data");

export class LocalStackError extends Error {
  override name = "LocalStackError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export type OpenRouterMode = "emulator" | "real";
export type StackMode = "local-emulator" | "local-openrouter";

export interface LocalStackOptions {
  /** Default 8787; 0 picks a free port (tests). */
  port?: number;
  /** Default 127.0.0.1; 0.0.0.0 (or ::) also answers on this machine's network addresses. */
  host?: string;
  /**
   * The URL people on the room network open, e.g. http://192.168.1.20:8787 (or a name a reverse
   * proxy answers to): printed, handed out as the API's base URLs, and accepted as a Host.
   */
  publicUrl?: string;
  /** Default `.data` at the repository root (git-ignored). */
  dataDir?: string;
  /** Adds the local-only demo workshop (default true). */
  demo?: boolean;
  /** ISO time the stack's clock starts at (rehearsals). */
  at?: string;
  /** Clock speed factor (default 1). */
  speed?: number;
  /** Emails that get the admins group. */
  admins?: string[];
  /** Default "emulator"; "real" needs OPENROUTER_MANAGEMENT_KEY (or `managementKey`). */
  openrouter?: OpenRouterMode;
  /** Default the repository's `workshops/`. */
  workshopsDir?: string;
  /** Silences the stack's own log lines (tests). */
  quiet?: boolean;
  /** Where the stack's log lines go (default: the console); ignored when quiet. */
  log?: (line: string) => void;
  /** Real milliseconds between scheduler ticks (default 3000). */
  schedulerIntervalMs?: number;
  /** The local OpenID provider's ID token lifetime (default an hour); tests shorten it. */
  idTokenTtlSeconds?: number;
  /** For "real" mode; defaults to OPENROUTER_MANAGEMENT_KEY. Never logged. */
  managementKey?: string;
  /** For "real" mode; defaults to OPENROUTER_BASE_URL, else https://openrouter.ai/api/v1. */
  openrouterBaseUrl?: string;
  /**
   * API Gateway's stage throttle on /api/* (`--throttle <rate>,<burst>`, throttle.ts): beyond the
   * bucket, 429 `{"message":"Too Many Requests"}` as the gateway answers. Off by default.
   */
  throttle?: ThrottleSettings;
  /**
   * How keys get their workshop's allow-list (workshops/derive.ts `GovernanceMode`, the deploy's
   * `governance` setting). Default "assignment"; "workspace" runs the emulator as an organization's
   * account (with --openrouter real, the key must be an organization admin's).
   */
  governance?: GovernanceMode;
}

export interface LocalStack {
  /** The origin, e.g. http://127.0.0.1:8787. */
  url: string;
  /** Every origin the stack answers as (url first): loopback names, network addresses, --public-url. */
  origins: string[];
  /** The origins a device on the room network can open (empty when the stack listens on loopback only). */
  networkUrls: string[];
  mode: StackMode;
  dataDir: string;
  clock: StackClock;
  admins: string[];
  /** Every workshop the stack serves, the demo included. */
  workshops: Workshop[];
  demoSlug?: string;
  /** The base URL attendees' code calls (the emulator's, or https://openrouter.ai/api/v1). */
  openrouterBaseUrl: string;
  governance: GovernanceMode;
  /** Present in emulator mode. */
  emulator?: ReturnType<typeof createEmulator>;
  /** The throttle on /api/*, when there is one; `throttled` counts the requests it answered 429. */
  throttle?: ThrottleSettings & { throttled: number };
  /** The management client the API and jobs use. */
  openrouter: OpenRouterClient;
  store: Store;
  tableNames: TableNames;
  dynamo: { endpoint: string; client: LocalDynamo["client"] };
  oidc: { issuer: string; issuers: string[]; clientId: string; jwksUri: string };
  scheduler: LocalScheduler;
  /** A line for the start banner: where the workshop is on the stack's clock. */
  workshopState(w: Workshop): string;
  close(): Promise<void>;
}

/** /config.json, as the page reads it (see the API contract). */
export interface SiteConfig {
  apiUrl: string;
  mode: StackMode;
  openrouterBaseUrl: string;
  /** The stack's clock (`--at`, `--speed`) when it answered, so the page's countdowns follow it. */
  clock: { now: number; speed: number };
  auth: { issuer: string; clientId: string; redirectUri: string; scope: string; logoutUri?: string };
}

/** Pending connections the kernel keeps for the stack (capped by net.core.somaxconn, 4096 on current Linux). */
const LISTEN_BACKLOG = 4096;

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolvePromise, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "EADDRINUSE"
          ? new LocalStackError(`port ${port} on ${host} is already in use: stop the other process or pass --port <another>`, { cause: err })
          : new LocalStackError(`could not listen on ${host}:${port}: ${err.message}`, { cause: err }),
      );
    };
    server.once("error", onError);
    // A room of phones connects at once: Node's default queue of 511 pending connections drops the
    // rest (a connect timeout on the phone), where a cloud load balancer would take them all.
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", onError);
      resolvePromise(server.address() as AddressInfo);
    });
  });
}

const UNAVAILABLE = {
  starting: {
    message: "The local stack is still starting; try again in a second.",
    title: "Starting…",
    text: "The local stack is still starting. This page reloads by itself in a second.",
  },
  stopping: {
    message: "The local stack is stopping; start it again with npm start.",
    title: "Stopping…",
    text: "The local stack is stopping. Start it again with <code>npm start</code>; this page reloads by itself.",
  },
} as const;

const unavailablePage = (state: keyof typeof UNAVAILABLE) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="1">
<title>${UNAVAILABLE[state].title} — Workshop Key Minter (local)</title>
</head>
<body>
<h1>${UNAVAILABLE[state].title}</h1>
<p>${UNAVAILABLE[state].text}</p>
</body>
</html>
`;

/** How long a stop waits for the requests being answered before it closes the parts under them. */
const STOP_DRAIN_MS = 15_000;

/**
 * What a request gets before every part is up, or once a stop has begun: 503 with Retry-After, a
 * page for a browser, else JSON.
 */
function answerUnavailable(req: IncomingMessage, res: ServerResponse, state: keyof typeof UNAVAILABLE): void {
  setSecurityHeaders(res);
  res.statusCode = 503;
  res.setHeader("retry-after", "1");
  res.setHeader("cache-control", "no-store");
  if (state === "stopping") res.setHeader("connection", "close");
  const path = (req.url ?? "/").split("?")[0]!;
  const wantsPage = (req.method === "GET" || req.method === "HEAD") && !path.startsWith("/api") && /text\/html/.test(req.headers.accept ?? "");
  if (wantsPage) {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end(req.method === "HEAD" ? undefined : unavailablePage(state));
    return;
  }
  res.setHeader("content-type", "application/json");
  const body = path === "/healthz" ? { ok: false, [state]: true } : { error: { code: state, message: UNAVAILABLE[state].message } };
  res.end(JSON.stringify(body));
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const log = opts.quiet ? () => {} : (opts.log ?? ((line: string) => console.log(line)));
  const dataDir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  // It holds the keys, the room-code secret and the sign-in key: owner-only, also when an older
  // start made it with the default mode (nothing inside can be reached through a 0700 folder).
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const clock = createStackClock({ at: opts.at, speed: opts.speed });
  const admins = [...new Set((opts.admins ?? []).map((e) => e.trim().toLowerCase()).filter(Boolean))];
  const openrouterMode: OpenRouterMode = opts.openrouter ?? "emulator";
  const governance: GovernanceMode = opts.governance ?? DEFAULT_GOVERNANCE;
  const mode: StackMode = openrouterMode === "real" ? "local-openrouter" : "local-emulator";
  const realManagementKey = opts.managementKey ?? process.env.OPENROUTER_MANAGEMENT_KEY;
  if (openrouterMode === "real" && !realManagementKey) {
    throw new LocalStackError(
      "--openrouter real needs an OpenRouter management key: export OPENROUTER_MANAGEMENT_KEY=... (create one under openrouter.ai → Settings → Management keys)",
    );
  }
  const host = opts.host ?? "127.0.0.1";
  // Checked before anything listens.
  serverOrigins({ host, port: 0, publicUrl: opts.publicUrl, addresses: () => [] });

  // A bad workshop file stops the start before anything listens, with every problem listed.
  const fileWorkshops = loadWorkshops(opts.workshopsDir);
  const wantDemo = (opts.demo ?? true) && !fileWorkshops.some((w) => w.slug === DEMO_SLUG);

  // The server listens first: the origins (and so the issuers) depend on the port it got. Until every
  // part is up, every request gets a 503 "starting"; a Host that is not one of ours gets a 421.
  let handler: ((req: IncomingMessage, res: ServerResponse) => Promise<unknown> | void) | undefined;
  let hostCheck: HostCheck | undefined;
  let ready = false;
  // A stop first stops taking requests and waits for those being answered (below): a request still
  // running when the database closes would fail inside it, outside any caller ("Database is closed").
  let stopping = false;
  const answering = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    if (!hostCheck) return answerUnavailable(req, res, "starting");
    if (!hostCheck.admit(req, res)) return;
    if (!answersMethod(req, res, setSecurityHeaders)) return;
    const toEmulator = req.url?.startsWith("/openrouter/") ?? false;
    // The emulator answers as soon as it exists (the stack's own start-up calls it: guardrails) and
    // until the last request that needs it is done.
    if (stopping && !toEmulator) return answerUnavailable(req, res, "stopping");
    if (handler && (ready || toEmulator)) return track(res, handler(req, res));
    answerUnavailable(req, res, "starting");
  });
  /** Counts a request as being answered until its response is closed and its handler has returned. */
  const track = (res: ServerResponse, work: Promise<unknown> | void) => {
    const done = Promise.all([new Promise<void>((r) => res.once("close", () => r())), Promise.resolve(work).catch(() => {})]).then(() => {
      answering.delete(done);
    });
    answering.add(done);
  };
  const stopTakingRequests = async () => {
    stopping = true;
    server.closeIdleConnections();
    const drained = Promise.all(answering).then(() => true);
    const gaveUp = new Promise<false>((r) => setTimeout(() => r(false), STOP_DRAIN_MS).unref());
    if (!(await Promise.race([drained, gaveUp]))) log(`local stack: stopping with ${answering.size} request(s) still being answered`);
  };
  // Keep-alive sockets from browsers and SDKs must not hold `close()` up.
  server.keepAliveTimeout = 5_000;
  const address = await listen(server, opts.port ?? DEFAULT_PORT, host);
  const served = serverOrigins({ host, port: address.port, publicUrl: opts.publicUrl });
  const origin = served.canonical;
  // The same server answers on these names too; the page may be opened on any of them.
  const origins = served.all;
  hostCheck = new HostCheck(origins);

  const cleanups: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (err) {
        console.error("local stack: a part failed to stop:", err);
      }
    }
  };
  cleanups.push(
    () =>
      new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      }),
  );

  try {
    // The database is the folder's lock (LevelDB's, held by the OS until this process lets go or
    // dies), so it is opened before anything is written: a second stack on a folder in use is
    // refused before it touches the demo workshop or the site the running one serves.
    const dynamo = await startLocalDynamo({ dataDir: join(dataDir, "dynamodb") }).catch((err: unknown) => {
      if (err instanceof DatabaseInUseError) {
        throw new LocalStackError(`The data folder ${dataDir} is in use by another process (another local stack?): stop it first, or start this one with --data <another folder>.`, { cause: err });
      }
      throw err instanceof DamagedDatabaseError ? damagedDataFolder(dataDir, err.message, [], err) : err;
    });
    cleanups.push(() => dynamo.close());

    const workshops = wantDemo ? [...fileWorkshops, loadOrCreateDemoWorkshop(dataDir, clock.now())] : fileWorkshops;
    const siteDir = join(dataDir, "site");
    const siteBuild = ensureSiteBuilt(workshops, siteDir);
    siteBuild.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled
    const tableNames = defaultTableNames("local");
    // A database this folder used before (it has its namespace) must still hold its tables; without
    // them its log was cut short, and creating them afresh would hide that every claim is gone.
    if (dynamo.existing && existsSync(join(dataDir, "key-namespace"))) {
      const present = new Set((await dynamo.client.send(new ListTablesCommand({}))).TableNames ?? []);
      const lost = Object.values(tableNames).filter((t) => !present.has(t));
      if (lost.length > 0) throw damagedDataFolder(dataDir, `its database (${join(dataDir, "dynamodb")}) no longer holds the table(s) ${lost.join(", ")}: its files were cut short`);
    }
    await ensureTables(dynamo.client, tableNames);
    const store = createStore({ client: dynamo.client, tableNames });

    const emulatorBaseUrlOf = (o: string) => `${o}/openrouter/api/v1`;
    const emulatorBaseUrl = emulatorBaseUrlOf(origin);
    const emulator =
      openrouterMode === "emulator"
        ? createEmulator({
            // Our own key, never OPENROUTER_MANAGEMENT_KEY: a real key is not handed to the emulator.
            managementKey: loadOrCreateEmulatorKey(dataDir),
            dataFile: join(dataDir, "openrouter-emulator.json"),
            models: workshops.flatMap((w) =>
              w.openrouter.models.flatMap((m) =>
                m.price_in_per_mtok !== undefined && m.price_out_per_mtok !== undefined
                  ? [{ id: m.id, price_in_per_mtok: m.price_in_per_mtok, price_out_per_mtok: m.price_out_per_mtok }]
                  : [],
              ),
            ),
            now: () => clock.now(),
            // Only an organization's account may create workspaces.
            ...(governance === "workspace" ? { accountKind: "organization" as const } : {}),
            // On a room network (--host 0.0.0.0) nobody there may change credits or inject faults.
            controlNeedsManagementKey: !isLoopbackHost(host),
          })
        : undefined;
    if (emulator) {
      cleanups.push(async () => {
        emulator.releaseHangs();
        await emulator.flush();
      });
    }
    const openrouterBaseUrl = emulator ? emulatorBaseUrl : (opts.openrouterBaseUrl ?? process.env.OPENROUTER_BASE_URL ?? DEFAULT_OPENROUTER_URL);
    const openrouter = createOpenRouterClient({
      apiKey: emulator ? emulator.managementKey : realManagementKey!,
      serverURL: openrouterBaseUrl,
    });

    const oidc: LocalOidc = await createLocalOidc({
      origin,
      extraOrigins: origins,
      dataDir,
      admins,
      // Each origin signs in at its own issuer, so the sign-in form's redirect chain stays on the
      // page's own origin and form-action 'self' holds.
      setHeaders: setSecurityHeaders,
      idTokenTtlSeconds: opts.idTokenTtlSeconds,
    });

    const api = createLocalApi({
      dynamo: dynamo.client,
      tableNames,
      store,
      openrouter,
      clock,
      auth: { issuers: oidc.issuers, clientId: oidc.clientId, jwks: oidc.jwks, jwksUri: oidc.jwksUri, adminGroup: ADMIN_GROUP },
      attendeeBaseUrl: openrouterBaseUrl,
      governance,
      quiet: opts.quiet,
    });

    // Everything the page is told follows the name it was opened on (127.0.0.1, localhost, the room
    // network's address): its own issuer, redirect URI and emulator URL, all reachable from that device.
    const configFor = (reqOrigin: string): SiteConfig => {
      const issuer = oidc.issuerFor(reqOrigin);
      return {
        apiUrl: `${reqOrigin}/api`,
        mode,
        openrouterBaseUrl: emulator ? emulatorBaseUrlOf(reqOrigin) : openrouterBaseUrl,
        clock: { now: clock.now(), speed: clock.speed },
        auth: {
          issuer,
          clientId: oidc.clientId,
          redirectUri: `${reqOrigin}/callback`,
          scope: OIDC_SCOPE,
          logoutUri: `${issuer}/session/end?${new URLSearchParams({ client_id: oidc.clientId, post_logout_redirect_uri: `${reqOrigin}/` })}`,
        },
      };
    };

    const app = new Hono();
    app.use(async (c, next) => {
      await next();
      for (const [name, value] of Object.entries(securityHeadersFor(c.req.header("host")))) c.res.headers.set(name, value);
    });
    app.get("/healthz", async (c) => {
      c.header("cache-control", "no-store");
      // The database is the part that can go away under a running stack (its files, its port).
      const database = await dynamo.client
        .send(new DescribeTableCommand({ TableName: tableNames.workshops }), { abortSignal: AbortSignal.timeout(2_000) })
        .then((r) => r.Table?.TableStatus === "ACTIVE", () => false);
      const parts = { database, openrouter: emulator ? "emulator" : "real", sign_in: oidc.issuer, site: true, scheduler: true };
      return c.json({ ok: database, mode, parts, workshops: workshops.map((w) => w.slug) }, database ? 200 : 503);
    });
    app.get("/config.json", (c) => {
      const host = c.req.header("host")?.toLowerCase();
      const reqOrigin = origins.find((o) => new URL(o).host === host) ?? origin;
      c.header("cache-control", "no-store");
      return c.json(configFor(reqOrigin));
    });
    // API Gateway's stage throttle sits in front of the API: a throttled request never reaches it.
    const bucket = opts.throttle && createTokenBucket(opts.throttle);
    const throttle = opts.throttle && { ...opts.throttle, throttled: 0 };
    const toApi = (req: Request) => {
      if (bucket && !bucket.take()) {
        throttle!.throttled++;
        return gatewayTooManyRequests();
      }
      return api.fetch(req);
    };
    app.all("/api/*", (c) => toApi(c.req.raw));
    app.all("/api", (c) => toApi(c.req.raw));
    if (emulator) app.route("/openrouter", emulator.app);
    app.all("/openrouter/*", (c) => c.json({ error: { code: 404, message: "The OpenRouter emulator is off: the stack runs against real OpenRouter." } }, 404));
    app.on(["GET", "HEAD"], "*", (c) => serveSiteFile(siteDir, new URL(c.req.url).pathname));
    app.notFound((c) => c.json({ error: { code: "not_found", message: `Nothing at ${c.req.method} ${new URL(c.req.url).pathname}` } }, 404));
    app.onError((err, c) => {
      console.error("local stack: unhandled error:", err);
      return c.json({ error: { code: "internal", message: "Something went wrong in the local stack; see the terminal." } }, 500);
    });
    // Leave the global Response alone: the OpenRouter SDK in this same process checks `instanceof Response`.
    const honoListener = getRequestListener(app.fetch, { overrideGlobalObjects: false });
    handler = (req, res) => {
      const path = req.url ?? "/";
      if (path === OIDC_MOUNT_PATH || path.startsWith(`${OIDC_MOUNT_PATH}/`) || path.startsWith(`${OIDC_MOUNT_PATH}?`)) {
        oidc.handle(req, res);
        return;
      }
      return honoListener(req, res);
    };

    // Each workshop's guardrail (the model allowlist) and its CONFIG item, as the deploy writes them.
    // This data folder's own namespace for guardrail and key names: a rehearsal with real OpenRouter
    // never rewrites the deployed guardrail nor takes the deployed stack's keys for orphans.
    const recorded = (await Promise.all(workshops.map((w) => store.getWorkshop(w.slug)))).find((r) => r?.key_namespace)?.key_namespace;
    const keyNamespace = localKeyNamespace(dataDir, recorded);
    const servedBefore = (await store.getCatalog()).entries.map((e) => e.slug);
    for (const w of workshops) {
      if (governance === "workspace") {
        // Its own workspace, whose default guardrail carries the allow-list (a personal account's 403 names the fix).
        const ws = await openrouter.ensureWorkspace(workspaceSpec(w, keyNamespace));
        await store.putWorkshop(w.slug, { config: w, guardrail_id: ws.guardrailId, workspace_id: ws.workspaceId, key_namespace: keyNamespace }, clock.now());
      } else {
        const guardrail = await openrouter.ensureGuardrail(guardrailSpec(w, keyNamespace));
        await store.putWorkshop(w.slug, { config: w, guardrail_id: guardrail.id, key_namespace: keyNamespace }, clock.now());
      }
    }
    await store.putCatalog(workshops, clock.now());
    await forgetRemovedWorkshops(dynamo, tableNames, servedBefore, workshops, log);

    const built = await siteBuild;
    log(`local stack: web site ${built.outcome === "built" ? `built in ${built.ms} ms` : "up to date"}`);

    const scheduler = startScheduler({
      workshops: () => workshops,
      clock,
      runJob: async (input) => {
        try {
          return await api.runJob(input);
        } finally {
          // The expire job scrubbed the keys from the claims; compacting drops the old copies LevelDB
          // still keeps on disk (also after a failed run: it may have scrubbed some).
          if (input.job === "expire") await dynamo.compact();
        }
      },
      runTick: async () => {
        const summary = await api.runTick();
        // A tick past a workshop's expiry finishes its expire job: when it scrubbed keys, compact as after expire.
        if (summary.runs.some((r) => (r.keys_scrubbed ?? 0) > 0)) await dynamo.compact();
        return summary;
      },
      stateFile: join(dataDir, "scheduler.json"),
      intervalMs: opts.schedulerIntervalMs,
      log,
    });
    cleanups.push(() => scheduler.stop());
    // Runs first at a stop: no new request, the hung emulator requests let go, the others answered;
    // then the scheduler finishes its job, the emulator saves, the database closes, the server goes.
    cleanups.push(async () => {
      emulator?.releaseHangs();
      await stopTakingRequests();
    });
    ready = true;

    let closed: Promise<void> | undefined;
    return {
      url: origin,
      origins,
      networkUrls: served.network,
      mode,
      dataDir,
      clock,
      admins,
      workshops,
      demoSlug: wantDemo ? DEMO_SLUG : undefined,
      openrouterBaseUrl,
      governance,
      emulator,
      throttle,
      openrouter,
      store,
      tableNames,
      dynamo: { endpoint: dynamo.endpoint, client: dynamo.client },
      oidc: { issuer: oidc.issuer, issuers: oidc.issuers, clientId: oidc.clientId, jwksUri: oidc.jwksUri },
      scheduler,
      workshopState: (w) => {
        const window = claimWindow(w, clock.now());
        if (window === "open") return `claims open until ${w.claims_close_at}`;
        if (window === "upcoming") return `claims open at ${w.claims_open_at}`;
        return w.is_active ? `claims closed at ${w.claims_close_at}` : "inactive";
      },
      close: () => (closed ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    if (err instanceof EmulatorDataError) {
      throw damagedDataFolder(dataDir, err.message, [
        "Without it the emulator starts empty: every key handed out so far stops working, and the next sync gives each claim a new key.",
      ], err);
    }
    if (err instanceof LocalOidcError) throw damagedDataFolder(dataDir, err.message, [], err);
    throw err;
  }
}

/** The emulator's management key for this data folder, made once (mode 0600). */
function loadOrCreateEmulatorKey(dataDir: string): string {
  const file = join(dataDir, "openrouter-emulator-management-key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const key = `sk-or-v1-${randomBytes(32).toString("hex")}`;
  writeFileSync(file, key, { mode: 0o600 });
  return key;
}

/**
 * Removes the CONFIG item of a workshop that is no longer served (its file was deleted, or the demo
 * is off), as a deploy removes it in the cloud; its claims stay in the table, unlisted.
 */
async function forgetRemovedWorkshops(dynamo: LocalDynamo, names: TableNames, servedBefore: string[], served: Workshop[], log: (l: string) => void) {
  const keep = new Set(served.map((w) => w.slug));
  const doc = DynamoDBDocumentClient.from(dynamo.client);
  for (const slug of servedBefore) {
    if (keep.has(slug)) continue;
    await doc.send(new DeleteCommand({ TableName: names.workshops, Key: workshopConfigKey(slug) }));
    log(`local stack: ${slug} is no longer served (no file, or --no-demo); its claims are kept`);
  }
}

/** What this stack writes into `key-namespace`: `local-` and 8 hex digits. */
const LOCAL_NAMESPACE = /^local-[0-9a-f]{8}$/;

/**
 * The data folder's key namespace (`local-<8 hex>`), made once and kept there. It is in the name of
 * every guardrail and key this folder made, so it is never silently replaced: a damaged file stops
 * the start (a new namespace would orphan the keys and guardrails on a real account), and a missing
 * one is restored from what the database recorded with the workshops.
 */
function localKeyNamespace(dataDir: string, recorded: string | undefined): string {
  const file = join(dataDir, "key-namespace");
  if (existsSync(file)) {
    const kept = readFileSync(file, "utf8").trim();
    if (LOCAL_NAMESPACE.test(kept) && (recorded === undefined || recorded === kept)) return kept;
    if (LOCAL_NAMESPACE.test(kept)) {
      throw damagedDataFolder(dataDir, `${file} holds ${kept}, but the database recorded ${recorded} for its workshops`, [
        `If the file was edited by hand, write the recorded one back:  echo ${recorded} > ${file}`,
      ]);
    }
    const fix = recorded
      ? `The database recorded ${recorded} for its workshops: write it back with  echo ${recorded} > ${file}`
      : `It is the local-<8 hex> part of this folder's key names (in openrouter-emulator.json, or on openrouter.ai → Keys with --openrouter real): write it back into the file`;
    throw damagedDataFolder(dataDir, `${file} does not hold a key namespace (local-<8 hex>; found ${JSON.stringify(kept.slice(0, 40))})`, [
      `${fix}; it names the guardrails and keys this folder made, so a new one would leave them behind.`,
    ]);
  }
  const namespace = recorded ?? `local-${randomBytes(4).toString("hex")}`;
  if (!KEY_NAMESPACE_PATTERN.test(namespace)) throw damagedDataFolder(dataDir, `the database recorded ${JSON.stringify(namespace)} as its key namespace`);
  writeFileSync(file, `${namespace}\n`, { mode: 0o600 });
  return namespace;
}

/** One clear error for a data folder the stack cannot use as it is: what is wrong and the ways on. */
function damagedDataFolder(dataDir: string, what: string, firstSteps: string[] = [], cause?: unknown): LocalStackError {
  const aside = `${dataDir}.damaged-${new Date().toISOString().slice(0, 10)}`;
  return new LocalStackError(
    [
      `The data folder ${dataDir} is damaged: ${what}. Its claims, keys and sign-ins were left as they are.`,
      ...firstSteps,
      "To start again without it:",
      `  mv ${dataDir} ${aside}        (keep it aside), then start as before`,
      "  npm start -- --data <another folder>   (start with a new folder, leave this one as it is)",
      `  rm -rf ${dataDir}        (delete it, if nothing in it matters)`,
      "A new folder starts with no claims and no sign-ins; keys already minted on real OpenRouter stay there until they expire.",
    ].join("\n"),
    { cause },
  );
}
