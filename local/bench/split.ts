import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { startTestIssuer, TEST_CLIENT_ID, type TestIssuer } from "../test-stack.js";
import { createHousekeeping } from "../../functions/data/housekeeping.js";
import { createStore, type Store } from "../../functions/data/store.js";
import { tableNames, type TableNames } from "../../functions/data/tables.js";
import { createClaimEngine } from "../../functions/domain/claims.js";
import type { JobName } from "../../functions/domain/timetable.js";
import { createWorkshopCatalog } from "../../functions/domain/workshops.js";
import { runJob, type JobSummary } from "../../functions/jobs/run.js";
import { createOpenRouterClient } from "../../functions/openrouter/client.js";
import type { OpenRouterClient } from "../../functions/openrouter/types.js";
import { bundleFunction } from "../../infra/bundle.js";
import { DEFAULT_GOVERNANCE, type GovernanceMode } from "../../workshops/derive.js";
import { ensureTables } from "../dynamo.js";
import type { FaultMap } from "../emulator/index.js";
import { confirmedAttendees, requestOver, workshopOpener, type ClaimTarget } from "./rig.js";

/**
 * The parts as they run in the cloud, each in its own process: the local DynamoDB (dynalite), the
 * OpenRouter emulator, and the API Lambda's bundle served over loopback (api-process.ts). This
 * process only sends the requests (and sets things up: workshops, attendees, the open job), so the
 * API process's CPU is the API's alone. The other processes' CPU is read from /proc where there is one.
 */

export interface SplitRig extends ClaimTarget {
  names: TableNames;
  /** A client of the local DynamoDB, for set-up. */
  dynamo: DynamoDBClient;
  /** A signed ID token the API accepts. */
  tokenFor: TestIssuer["tokenFor"];
  apiOrigin: string;
  /** Management calls to the emulator, as the jobs make them. */
  openrouter: OpenRouterClient;
  job(job: JobName, slug: string): Promise<JobSummary>;
  /** CPU time (ms) so far of the local DynamoDB's and the emulator's processes (undefined without /proc). */
  partsCpuMs(): { dynamo?: number; emulator?: number };
  /** Upstream HTTP calls the emulator served since the last reset, by operation. */
  upstreamCalls(): Promise<Record<string, number>>;
  resetUpstreamCalls(): Promise<void>;
  close(): Promise<void>;
}

const HERE = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export interface Child {
  process: ChildProcess;
  /** The rest of the line the child printed after its ready word. */
  ready: string;
}

/** Starts `node [--import tsx] <script>`; resolves when it prints `<word> <value>`. */
export function startChild(script: string, args: string[], env: NodeJS.ProcessEnv, word: RegExp, nodeArgs: string[] = []): Promise<Child> {
  return new Promise((resolve, reject) => {
    const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
    const child = spawn(process.execPath, [...nodeArgs, ...loader, script, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => fail(new Error(`${script} did not start within 30 s: ${err.slice(0, 500)}`)), 30_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(e);
    };
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = word.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners("data");
        child.stdout!.resume();
        resolve({ process: child, ready: m[1]! });
      }
    });
    child.once("exit", (code) => fail(new Error(`${script} exited (${code}) before it was ready: ${err.slice(0, 500)}`)));
  });
}

function stop(child: Child): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null) return resolve();
    child.process.removeAllListeners("exit");
    child.process.once("exit", () => resolve());
    child.process.kill("SIGTERM");
    setTimeout(() => child.process.kill("SIGKILL"), 3_000).unref();
  });
}

/** utime + stime of a process (ms), from /proc; undefined where there is none. */
function procCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 14th
    // field of the line, stime the 15th, in clock ticks (100 per second on Linux).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

export interface SplitRigOptions {
  /** How the API and the jobs govern keys (default "assignment"); "workspace" runs the emulator as an organization's account. */
  governance?: GovernanceMode;
}

export async function startSplitRig(opts: SplitRigOptions = {}): Promise<SplitRig> {
  const governance = opts.governance ?? DEFAULT_GOVERNANCE;
  const managementKey = `sk-or-v1-${randomBytes(32).toString("hex")}`;
  const baseEnv = { PATH: process.env.PATH ?? "" };
  const children: Child[] = [];
  let issuer: TestIssuer | undefined;
  const bundleDir = await mkdtemp(join(tmpdir(), "wkm-bench-api-"));
  // BENCH_API_NODE_ARGS: node options for the API process alone, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  // (docs/performance.md); its bundle's source map is then kept, to read the profile with.
  const apiNodeArgs = process.env.BENCH_API_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  let sourceMapFile: string | undefined;
  const removeBundle = async () => {
    await rm(bundleDir, { recursive: true, force: true });
    if (sourceMapFile && apiNodeArgs.length === 0) await rm(sourceMapFile, { force: true });
    else if (sourceMapFile) process.stderr.write(`the API bundle's source map: ${sourceMapFile}\n`);
  };
  try {
    const apiBundle = await bundleFunction("local/bench/api-process.ts", { outdir: bundleDir, name: "bench-api" });
    sourceMapFile = apiBundle.sourceMapFile;
    const [dynamo, emulator] = await Promise.all([
      startChild(HERE("./dynamo-process.ts"), [], baseEnv, /^dynamo (\S+)$/m),
      startChild(HERE("../emulator/cli.ts"), ["--port", "0", "--seed", "1", ...(governance === "workspace" ? ["--account", "organization"] : [])], { ...baseEnv, OPENROUTER_MANAGEMENT_KEY: managementKey }, /^OpenRouter emulator: (\S+)$/m),
    ]);
    children.push(dynamo, emulator);
    issuer = await startTestIssuer();
    const dynamoEndpoint = dynamo.ready;
    const emulatorUrl = emulator.ready;
    const emulatorOrigin = new URL(emulatorUrl).origin;

    const names = tableNames(`split${randomUUID().slice(0, 8)}`);
    const client = new DynamoDBClient({
      endpoint: dynamoEndpoint,
      region: "local",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      requestHandler: { httpAgent: { keepAlive: true, maxSockets: 64 } },
    });
    await ensureTables(client, names);

    // The API Lambda's environment, pointed at the local parts.
    const api = await startChild(
      join(apiBundle.outdir, "index.mjs"),
      [],
      {
        ...baseEnv,
        ATTENDEES_TABLE: names.attendees,
        WORKSHOPS_TABLE: names.workshops,
        OPENROUTER_BASE_URL: emulatorUrl,
        OPENROUTER_MANAGEMENT_KEY: managementKey,
        OPENROUTER_GOVERNANCE: governance,
        AUTH_ISSUER: issuer.issuer,
        AUTH_CLIENT_ID: TEST_CLIENT_ID,
        AUTH_JWKS_URI: issuer.jwksUri,
        ATTENDEE_BASE_URL: emulatorUrl,
        AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
        AWS_REGION: "local",
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
      },
      /^api (\S+)$/m,
      apiNodeArgs,
    );
    children.push(api);
    const apiOrigin = api.ready;

    const now = Date.now;
    const store: Store = createStore({ client, tableNames: names });
    const openrouter = createOpenRouterClient({ apiKey: managementKey, serverURL: emulatorUrl, timeoutMs: 15_000, maxAttempts: 5, totalBudgetMs: 45_000 });
    const engine = createClaimEngine({ store, openrouter, workshops: createWorkshopCatalog({ store, ttlMs: 0 }), now, governance });
    const housekeeping = createHousekeeping({ client, tableNames: names });
    const job = (name: JobName, slug: string) => runJob({ job: name, slug }, { store, housekeeping, engine, openrouter, now, governance });
    const control = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${emulatorOrigin}${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`emulator ${method} ${path} answered ${res.status}: ${await res.text()}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    const testIssuer = issuer;

    return {
      names,
      dynamo: client,
      tokenFor: (u) => testIssuer.tokenFor(u),
      apiOrigin,
      store,
      openrouter,
      job,
      openWorkshop: workshopOpener(store, job, now),
      attendees: (prefix, n) => confirmedAttendees(store, testIssuer, prefix, n, now),
      request: (method, path, token, body) => requestOver(apiOrigin, method, path, token, body),
      setFaults: async (faults: FaultMap) => void (await control("PUT", "/_emulator/faults", faults)),
      async apiCpuMs() {
        const res = await fetch(`${apiOrigin}/_bench/cpu`);
        return ((await res.json()) as { cpu_ms: number }).cpu_ms;
      },
      partsCpuMs: () => ({ dynamo: procCpuMs(dynamo.process.pid), emulator: procCpuMs(emulator.process.pid) }),
      upstreamKeyNames: async () => (await openrouter.listAllKeys({ includeDisabled: true })).map((k) => k.name),
      upstreamCalls: async () => ((await control("GET", "/_emulator/stats")) as { calls: Record<string, number> }).calls,
      resetUpstreamCalls: async () => void (await control("POST", "/_emulator/stats/reset")),
      async close() {
        await Promise.all(children.map(stop));
        await testIssuer.close();
        client.destroy();
        await removeBundle();
      },
    };
  } catch (err) {
    await Promise.all(children.map(stop));
    await issuer?.close();
    await removeBundle();
    throw err;
  }
}
