import { randomInt } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { cors } from "hono/cors";
import { ModelCatalogue, type EmulatorModel } from "./catalogue.js";
import { errorResponse, json, requireManagement, type EmulatorContext } from "./context.js";
import { FaultInjector, validateFaults, type EmulatorStats, type FaultMap } from "./faults.js";
import { registerInferenceRoutes } from "./inference.js";
import { registerManagementRoutes } from "./management.js";
import { answersMethod, HostCheck, isLoopbackHost, isWildcardHost, serverOrigins } from "../hosts.js";
import { EmulatorStore, generateKey, hashKey, keyLabel, type AccountKind, type EmulatorData } from "./state.js";

/**
 * An OpenRouter emulator: the Management API, chat completions and models, with upstream's shapes,
 * quirks and status codes, plus fault injection for tests and benchmarks. Routes live under
 * /api/v1 (OpenRouter's) and /_emulator (control: faults, stats, models). The app has no absolute
 * origin baked in, so it can be mounted anywhere (the local stack serves it under /openrouter).
 */

export { OPENROUTER_MODELS, type EmulatorModel } from "./catalogue.js";
export { MANAGEMENT_OPERATIONS, OPERATIONS, type EmulatorStats, type FaultMap, type FaultSpec, type Operation } from "./faults.js";
export { DEFAULT_COMPLETION_TOKENS, chatCost, promptTokens } from "./inference.js";
export { EmulatorDataError, type AccountKind, type AssignmentRecord, type EmulatorData, type GuardrailRecord, type KeyRecord, type WorkspaceRecord } from "./state.js";

export interface EmulatorOptions {
  /** Accepted management key. Else OPENROUTER_MANAGEMENT_KEY, else one is generated (and kept in dataFile). */
  managementKey?: string;
  /** JSON file the state is kept in; without it the state lives in memory only. */
  dataFile?: string;
  /** Added to (or re-pricing) OpenRouter's catalogue (OPENROUTER_MODELS). */
  models?: EmulatorModel[];
  faults?: FaultMap;
  /** Seed for fault dice; the same seed and calls give the same failures. Default: random. */
  seed?: number;
  /** Account credits in USD for a fresh state (GET /credits; 402 openrouter_credits when spent). Default 1000. */
  totalCredits?: number;
  /** Clock (ms since epoch) for expiry and usage windows; the local stack passes its rehearsal clock. */
  now?: () => number;
  /**
   * The control routes (/_emulator/*: faults, credits, models, stats) answer only the management key
   * (Bearer). Off by default, for a loopback-only emulator; on for one that listens on a network
   * (`--host 0.0.0.0`), so nobody else on the Wi-Fi can change credits or inject faults.
   */
  controlNeedsManagementKey?: boolean;
  /**
   * "organization" lets the account create workspaces (as an organization's admin); "personal", a
   * state's default, has the default workspace alone. Kept in the state once given.
   */
  accountKind?: AccountKind;
}

export interface Emulator {
  /** Hono app with routes at /api/v1/... and /_emulator/... */
  app: Hono;
  managementKey: string;
  /** True when the key was generated here rather than given (so a CLI may show it once). */
  managementKeyGenerated: boolean;
  setFaults(faults: FaultMap): void;
  stats(): EmulatorStats;
  resetStats(): void;
  addModels(models: EmulatorModel[]): void;
  /** Read access for tests and tools; mutate only through the HTTP API. */
  readonly state: EmulatorData;
  /** Writes the data file now. */
  flush(): Promise<void>;
  /** Answers every held ("hung") request, so a server can close. */
  releaseHangs(): void;
}

export function createEmulator(opts: EmulatorOptions = {}): Emulator {
  const store = new EmulatorStore(opts.dataFile, opts.totalCredits ?? 1000);
  let managementKey = opts.managementKey ?? process.env.OPENROUTER_MANAGEMENT_KEY ?? "";
  let generated = false;
  if (!managementKey) {
    // Generated keys are kept in the data file, so a restarted emulator still accepts the key the stack was given.
    managementKey = store.data.generated_management_key ?? generateKey();
    generated = true;
    if (store.data.generated_management_key !== managementKey) {
      store.data.generated_management_key = managementKey;
      store.commit({ account: true });
    }
  }

  if (opts.accountKind && (store.data.account_kind ?? "personal") !== opts.accountKind) {
    store.data.account_kind = opts.accountKind;
    store.commit({ account: true });
  }

  const ctx: EmulatorContext = {
    store,
    catalogue: new ModelCatalogue(opts.models ?? []),
    faults: new FaultInjector(opts.faults ?? {}, opts.seed ?? randomInt(2 ** 31)),
    managementKeyHash: hashKey(managementKey),
    managementKeyLabel: keyLabel(managementKey.startsWith("sk-or-v1-") ? managementKey : `sk-or-v1-${hashKey(managementKey)}`),
    now: opts.now ?? Date.now,
    hangReleasers: new Set(),
  };

  const app = new Hono();
  // OpenRouter answers browsers from any origin; so does the emulator (its own control routes excepted).
  app.use("/api/v1/*", cors({ origin: "*", allowHeaders: ["authorization", "content-type", "x-api-key", "http-referer", "x-title", "x-openrouter-title"], maxAge: 600 }));
  registerManagementRoutes(app, ctx);
  registerInferenceRoutes(app, ctx);

  if (opts.controlNeedsManagementKey) {
    app.use("/_emulator/*", async (c, next) => requireManagement(ctx, c) ?? next());
  }
  // Control writes need a JSON content type: a web page can send a cross-site "simple" POST
  // (text/plain, form) to a loopback port without asking, but not an application/json one, and the
  // control routes answer no CORS preflight.
  app.on(["POST", "PUT", "PATCH", "DELETE"], "/_emulator/*", async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      return errorResponse(415, "The emulator's control endpoints take Content-Type: application/json");
    }
    await next();
  });
  app.get("/_emulator/faults", () => json({ faults: ctx.faults.get() }));
  app.put("/_emulator/faults", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return errorResponse(400, "Request body must be JSON");
    }
    const faults = (body as { faults?: unknown })?.faults ?? body;
    try {
      ctx.faults.set(validateFaults(faults));
    } catch (err) {
      return errorResponse(400, err instanceof Error ? err.message : String(err));
    }
    return json({ faults: ctx.faults.get() });
  });
  app.get("/_emulator/stats", () => json(ctx.faults.stats()));
  app.post("/_emulator/stats/reset", () => {
    ctx.faults.resetStats();
    return json(ctx.faults.stats());
  });
  // The account's credit, to rehearse an account running dry (GET /api/v1/credits, 402 openrouter_credits).
  app.get("/_emulator/credits", () => json({ total_credits: ctx.store.data.total_credits, total_usage: ctx.store.data.total_usage }));
  app.put("/_emulator/credits", async (c) => {
    let total: unknown;
    try {
      total = ((await c.req.json()) as { total_credits?: unknown }).total_credits;
    } catch {
      return errorResponse(400, "Request body must be JSON: {\"total_credits\": <USD>}");
    }
    if (typeof total !== "number" || !Number.isFinite(total) || total < 0) return errorResponse(400, "total_credits must be a number of USD, 0 or more");
    ctx.store.data.total_credits = total;
    ctx.store.commit({ account: true });
    return json({ total_credits: ctx.store.data.total_credits, total_usage: ctx.store.data.total_usage });
  });
  app.post("/_emulator/models", async (c) => {
    try {
      const body = (await c.req.json()) as { models?: EmulatorModel[] } | EmulatorModel[];
      ctx.catalogue.add(Array.isArray(body) ? body : (body.models ?? []));
    } catch (err) {
      return errorResponse(400, err instanceof Error ? err.message : String(err));
    }
    return json({ models: ctx.catalogue.list() });
  });

  app.notFound((c) => errorResponse(404, `No route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((err) => {
    console.error(`emulator: ${err instanceof Error ? err.message : String(err)}`);
    return errorResponse(500, "Internal Server Error");
  });

  return {
    app,
    managementKey,
    managementKeyGenerated: generated,
    setFaults: (faults) => ctx.faults.set(faults),
    stats: () => ctx.faults.stats(),
    resetStats: () => ctx.faults.resetStats(),
    addModels: (models) => ctx.catalogue.add(models),
    get state() {
      return store.data;
    },
    flush: () => store.flush(),
    releaseHangs: () => {
      for (const release of [...ctx.hangReleasers]) release();
    },
  };
}

export interface StartEmulatorOptions extends EmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface RunningEmulator {
  /** OpenRouter base URL, e.g. http://127.0.0.1:PORT/api/v1 */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  managementKey: string;
  emulator: Emulator;
  close(): Promise<void>;
}

export async function startEmulator(opts: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const host = opts.host ?? "127.0.0.1";
  const emulator = createEmulator({ controlNeedsManagementKey: !isLoopbackHost(host), ...opts });
  // Only its own names as Host (DNS rebinding: see local/hosts.ts); known once the port is.
  let hostCheck: HostCheck | undefined;
  const fetch = (req: Request) => {
    const name = req.headers.get("host") ?? undefined;
    if (hostCheck?.allows(name)) return emulator.app.fetch(req);
    const { status, contentType, body } = (hostCheck ?? new HostCheck([])).refusal(name);
    return new Response(body, { status, headers: { "content-type": contentType } });
  };
  const server = await new Promise<ServerType>((resolve, reject) => {
    // overrideGlobalObjects: false keeps the global Response undici's own; node-server would otherwise
    // swap it, and clients in the same process (the SDK checks `instanceof Response`) would break.
    const s = serve({ fetch, port: opts.port ?? 0, hostname: host, overrideGlobalObjects: false }, () => resolve(s));
    // TRACE and other methods nothing answers get 405 before node-server turns them into a fetch Request (a 500).
    const listeners = s.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
    s.removeAllListeners("request");
    s.on("request", (req: IncomingMessage, res: ServerResponse) => {
      if (answersMethod(req, res)) for (const listener of listeners) listener(req, res);
    });
    s.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  const served = serverOrigins({ host, port });
  hostCheck = new HostCheck(served.all);
  const origin = isWildcardHost(host) ? `http://127.0.0.1:${port}` : served.canonical;
  return {
    url: `${origin}/api/v1`,
    origin,
    managementKey: emulator.managementKey,
    emulator,
    close: async () => {
      emulator.releaseHangs();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await emulator.flush();
    },
  };
}
