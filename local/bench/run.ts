import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { testWorkshop } from "../../functions/api/testing.js";
import { forEachLimited } from "../../functions/jobs/run.js";
import { effectiveCapacity, keyNamePrefix } from "../../workshops/derive.js";
import { loadWorkshops } from "../../workshops/load.js";
import type { Workshop } from "../../workshops/schema.js";
import { bundleFunction } from "../../infra/bundle.js";
import { buildSite } from "../../web/build.js";
import { MANAGEMENT_OPERATIONS, median, percentile, startBenchRig, type BenchRig } from "./rig.js";

/**
 * `npm run bench [-- --json bench.json]`: the product's promises as figures, measured against the
 * real local parts in this one process (dynalite, the OpenRouter emulator, the API app on a
 * loopback HTTP server, the jobs runner), then the deployable bundles. Prints a table; exits 1 when
 * a promise is broken (oversold, duplicate keys, sequential median over 2 round trips + 50 ms, a
 * burst over 10 s).
 */

const BURST_USERS = 300;
const BURST_CAPACITY = 250;
const SEQUENTIAL_CLAIMS = 30;
const COST_CLAIMS = 40;
const SYNC_KEYS = 300;
const IMPORT_RUNS = 5;

type Row = [label: string, value: string, note?: string];
const sections: { title: string; rows: Row[] }[] = [];
const broken: string[] = [];

function section(title: string, rows: Row[]) {
  sections.push({ title, rows });
  printSection(sections.at(-1)!);
}

function printSection({ title, rows }: { title: string; rows: Row[] }) {
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  console.log(`\n${title}`);
  for (const [label, value, note] of rows) console.log(`  ${label.padEnd(width)}  ${value.padStart(valueWidth)}${note ? `  ${note}` : ""}`);
}

const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

function expectThat(ok: boolean, what: string): string {
  if (!ok) broken.push(what);
  return ok ? "ok" : "BROKEN";
}

/** A workshop open now with the given capacity; budget $2 and a cap that leaves max_keys binding. */
function benchWorkshop(slug: string, maxKeys: number): Workshop {
  return testWorkshop(slug, Date.now(), { openrouter: { budget_usd: 2, guardrail: { cap_usd: 2 * maxKeys + 200, reset_interval: "monthly", max_keys: maxKeys } } });
}

const latencyFaults = (latencyMs: number) => Object.fromEntries(MANAGEMENT_OPERATIONS.map((op) => [op, { latencyMs }]));

interface Answer {
  status: number;
  ms: number;
  body: { key?: { key: string | null; status: string }; error?: { code: string } };
}

function parseBody(text: string): Answer["body"] {
  try {
    return JSON.parse(text) as Answer["body"];
  } catch {
    // Not the API's JSON (a proxy or crash page): counted as failed by its status.
    return {};
  }
}

async function claimBurst(rig: BenchRig, latencyMs: number) {
  const w = benchWorkshop(`burst-${latencyMs}ms`, BURST_CAPACITY);
  await rig.openWorkshop(w);
  const users = await rig.attendees(`burst${latencyMs}`, BURST_USERS);
  // Warm the token verifier's JWKS cache and the workshop cache, as any container that served a request has.
  const warm = (await rig.attendees(`warm${latencyMs}`, 1))[0]!;
  await rig.request("GET", `/api/workshops/${w.slug}/key`, warm.token);
  rig.setFaults(latencyFaults(latencyMs));
  rig.resetCounters();

  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const answers: Answer[] = await Promise.all(
    users.map(async (u) => {
      const t = performance.now();
      const res = await rig.request("POST", `/api/workshops/${w.slug}/claim`, u.token);
      return { status: res.status, ms: performance.now() - t, body: parseBody(res.text) };
    }),
  );
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  rig.setFaults({});

  const granted = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status === 409 && a.body.error?.code === "sold_out");
  const failed = answers.filter((a) => !granted.includes(a) && !refused.includes(a));
  const keys = granted.map((a) => a.body.key?.key ?? "");
  const upstreamKeys = rig.upstream.emulator.state.keys.filter((k) => k.name.startsWith(keyNamePrefix(w)));
  const perName = new Map<string, number>();
  for (const k of upstreamKeys) perName.set(k.name, (perName.get(k.name) ?? 0) + 1);
  const ledger = await rig.store.getLedger(w.slug);
  const capacity = effectiveCapacity(w);
  const duplicateKeys = keys.length - new Set(keys).size + [...perName.values()].reduce((s, n) => s + n - 1, 0);
  const oversold = Math.max(0, granted.length - capacity, ledger.claimed - capacity, upstreamKeys.length - capacity);
  const latencies = answers.map((a) => a.ms);
  return {
    upstream_latency_ms: latencyMs,
    users: BURST_USERS,
    capacity,
    granted: granted.length,
    refused: refused.length,
    failed: failed.length,
    failed_statuses: [...new Set(failed.map((a) => a.status))],
    oversold,
    duplicate_keys: duplicateKeys,
    all_granted_active: granted.every((a) => a.body.key?.status === "ACTIVE"),
    wall_ms: Math.round(wallMs),
    p50_ms: Math.round(median(latencies)),
    p95_ms: Math.round(percentile(latencies, 95)),
    p99_ms: Math.round(percentile(latencies, 99)),
    max_ms: Math.round(Math.max(...latencies)),
    answers_per_s: round((BURST_USERS / wallMs) * 1000),
    granted_per_s: round((granted.length / wallMs) * 1000),
    upstream_calls: Object.fromEntries(rig.counters.upstream),
    upstream_calls_per_granted: round(rig.totalUpstream() / granted.length, 2),
    dynamodb_writes: Object.fromEntries(rig.counters.writes),
    dynamodb_writes_per_granted: round(rig.totalWrites() / granted.length, 2),
    dynamodb_reads_per_answer: round(rig.counters.reads / BURST_USERS, 2),
    process_cpu_ms_per_answer: round((cpu.user + cpu.system) / 1000 / BURST_USERS, 2),
    dynamodb_round_trip_ms: roundTrips(rig),
  };
}

/** DynamoDB round trips by operation and item kind: count, p50, p95 (ms). */
function roundTrips(rig: BenchRig): Record<string, { n: number; p50: number; p95: number }> {
  return Object.fromEntries(
    [...rig.counters.dynamoMs].sort(([a], [b]) => a.localeCompare(b)).map(([label, xs]) => [label, { n: xs.length, p50: Math.round(median(xs)), p95: Math.round(percentile(xs, 95)) }]),
  );
}

/** The slowest kinds of DynamoDB round trip, slowest first, as "UpdateItem LEDGER 812/1204 ms". */
const slowestRoundTrips = (trips: Record<string, { n: number; p50: number; p95: number }>) =>
  Object.entries(trips)
    .sort(([, a], [, b]) => b.p50 - a.p50)
    .slice(0, 3)
    .map(([label, t]) => `${label} ${t.p50}/${t.p95} ms`);

/** Claims one after another: per-claim wall time, process CPU, writes and upstream calls. */
async function sequentialClaims(rig: BenchRig, latencyMs: number, n: number) {
  const w = benchWorkshop(`seq-${latencyMs}ms`, n + 10);
  await rig.openWorkshop(w);
  const users = await rig.attendees(`seq${latencyMs}`, n + 3);
  rig.setFaults(latencyFaults(latencyMs));
  // Three warm-up claims: JWKS, workshop cache, sockets, JIT.
  for (const u of users.slice(0, 3)) await rig.request("POST", `/api/workshops/${w.slug}/claim`, u.token);
  rig.resetCounters();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (const u of users.slice(3)) {
    const c = process.cpuUsage();
    const t = performance.now();
    const res = await rig.request("POST", `/api/workshops/${w.slug}/claim`, u.token);
    wall.push(performance.now() - t);
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
    if (res.status !== 201) throw new Error(`sequential claim answered ${res.status}: ${res.text.slice(0, 200)}`);
  }
  rig.setFaults({});
  return {
    upstream_latency_ms: latencyMs,
    claims: n,
    median_ms: round(median(wall)),
    p99_ms: round(percentile(wall, 99)),
    median_process_cpu_ms: round(median(cpu), 2),
    dynamodb_writes_per_claim: round(rig.totalWrites() / n, 2),
    dynamodb_writes: Object.fromEntries(rig.counters.writes),
    dynamodb_reads_per_claim: round(rig.counters.reads / n, 2),
    dynamodb_round_trip_ms: roundTrips(rig),
    // Round trips of one claim follow each other, so their sum is the claim's time in DynamoDB.
    dynamodb_ms_per_claim: round([...rig.counters.dynamoMs.values()].flat().reduce((a, b) => a + b, 0) / n),
    upstream_calls_per_claim: round(rig.totalUpstream() / n, 2),
  };
}

async function syncOf300(): Promise<Record<string, unknown>> {
  // Its own emulator: GET /keys lists the whole account, so other scenarios' keys would add pages.
  const rig = await startBenchRig();
  try {
    const w = benchWorkshop("sync-300", SYNC_KEYS);
    await rig.openWorkshop(w);
    await forEachLimited(
      Array.from({ length: SYNC_KEYS }, (_, i) => `sync-user-${i}`),
      25,
      async (u) => void (await rig.engine.claim(w.slug, { userId: u, email: `${u}@example.com` })),
    );
    const runs: Record<string, unknown>[] = [];
    for (const label of ["first", "steady"]) {
      rig.resetCounters();
      const t = performance.now();
      const summary = await rig.job("sync", w.slug);
      const took = performance.now() - t;
      if (!summary.ok) throw new Error(`sync failed: ${summary.errors.join("; ")}`);
      runs.push({ run: label, keys: summary.keys, list_calls: rig.counters.upstream.get("keys.list") ?? 0, upstream_calls: rig.totalUpstream(), usage_written: summary.usage_written, dynamodb_writes: rig.totalWrites(), ms: Math.round(took) });
    }
    return { keys: SYNC_KEYS, first: runs[0], steady: runs[1] };
  } finally {
    await rig.close();
  }
}

/** The two Lambda bundles as infra deploys them, the API's cold import, and the attendee pages' JavaScript. */
async function bundles(workDir: string) {
  const api = await bundleFunction("functions/api/handler.ts", { outdir: join(workDir, "api") });
  const jobs = await bundleFunction("functions/jobs/handler.ts", { outdir: join(workDir, "jobs") });
  const importMs: number[] = [];
  const processMs: number[] = [];
  for (let i = 0; i < IMPORT_RUNS; i++) {
    const r = await coldImport(join(api.outdir, "index.mjs"));
    importMs.push(r.importMs);
    processMs.push(r.processMs);
  }
  const site = await buildSite({ workshops: loadWorkshops(), outDir: join(workDir, "site") });
  return {
    api_bundle_bytes: api.sizeBytes,
    jobs_bundle_bytes: jobs.sizeBytes,
    api_cold_import_ms: round(median(importMs)),
    api_cold_process_ms: round(median(processMs)),
    import_runs: IMPORT_RUNS,
    web_gzip_bytes: site.gzipBytes,
  };
}

/**
 * A fresh `node` imports the API bundle, as a Lambda cold start does, with its environment set to
 * dummy loopback values (nothing is contacted at import: the management key comes from the
 * environment, the JWKS is fetched on the first request).
 */
function coldImport(bundle: string): Promise<{ importMs: number; processMs: number }> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(bundle).href)}); process.stdout.write(String(performance.now() - t));`;
  const env = {
    PATH: process.env.PATH ?? "",
    ATTENDEES_TABLE: "bench-attendees",
    WORKSHOPS_TABLE: "bench-workshops",
    OPENROUTER_BASE_URL: "http://127.0.0.1:9/api/v1",
    OPENROUTER_MANAGEMENT_KEY: "bench-dummy-management-key",
    AUTH_ISSUER: "http://127.0.0.1:9/issuer",
    AUTH_CLIENT_ID: "bench-client",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
  };
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`importing the API bundle failed (exit ${code}): ${err.slice(0, 500)}`));
      else resolvePromise({ importMs: Number(out), processMs: performance.now() - started });
    });
  });
}

function parseArgs(argv: string[]): { json?: string } {
  const i = argv.indexOf("--json");
  if (i === -1) return {};
  const file = argv[i + 1];
  if (!file || file.startsWith("--")) throw new Error("--json needs a file name, e.g. npm run bench -- --json bench.json");
  return { json: resolve(file) };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const benchStarted = performance.now();
  console.log(`Workshop Key Minter bench: node ${process.version}, ${cpus().length} CPU (${cpus()[0]?.model.trim() ?? "?"}), everything in this one process`);
  const loadBefore = loadavg()[0]!;
  // Other processes on the machine take CPU from the one process every part shares here.
  if (loadBefore > cpus().length) console.log(`Warning: load average ${loadBefore.toFixed(1)} on ${cpus().length} CPUs before the bench: the figures below are slowed by other work.`);

  const rig = await startBenchRig();
  const bursts = [];
  let cost;
  let sequential;
  try {
    for (const latency of [0, 100]) {
      const b = await claimBurst(rig, latency);
      bursts.push(b);
      // A calm upstream leaves no excuse for an answer other than a key or "sold out".
      expectThat(b.failed === 0, `burst ${latency} ms: ${b.failed} answers were neither a key nor sold out`);
      section(`Claim burst: ${b.users} users at once, capacity ${b.capacity}, upstream latency ${latency} ms per call`, [
        ["granted / refused (sold out) / failed", `${b.granted} / ${b.refused} / ${b.failed}`, b.failed ? `BROKEN: statuses ${b.failed_statuses.join(",")}` : undefined],
        ["oversold", String(b.oversold), expectThat(b.oversold === 0, `burst ${latency} ms oversold ${b.oversold}`)],
        ["duplicate keys", String(b.duplicate_keys), expectThat(b.duplicate_keys === 0, `burst ${latency} ms duplicate keys ${b.duplicate_keys}`)],
        ["claim latency p50 / p95 / p99", `${b.p50_ms} / ${b.p95_ms} / ${b.p99_ms} ms`],
        ["every answer in", ms(b.wall_ms), expectThat(b.wall_ms <= 10_000, `burst ${latency} ms took ${b.wall_ms} ms (> 10 s)`)],
        ["answers per second (granted per second)", `${b.answers_per_s} (${b.granted_per_s})`],
        ["upstream calls per granted claim", String(b.upstream_calls_per_granted), JSON.stringify(b.upstream_calls)],
        ["DynamoDB writes per granted claim", String(b.dynamodb_writes_per_granted), `refusals' writes included: ${JSON.stringify(b.dynamodb_writes)}`],
        ["slowest DynamoDB round trip p50/p95", slowestRoundTrips(b.dynamodb_round_trip_ms)[0] ?? "-", `then ${slowestRoundTrips(b.dynamodb_round_trip_ms).slice(1).join(", ")}`],
      ]);
    }

    cost = await sequentialClaims(rig, 0, COST_CLAIMS);
    section(`The claim path's own cost: ${cost.claims} claims one after another, upstream latency 0 ms`, [
      ["median wall time per claim", ms(cost.median_ms)],
      ["median process CPU per claim", ms(cost.median_process_cpu_ms), "API + dynalite + emulator: all run in this process"],
      ["DynamoDB writes per claim", String(cost.dynamodb_writes_per_claim), JSON.stringify(cost.dynamodb_writes)],
      ["DynamoDB reads per claim", String(cost.dynamodb_reads_per_claim)],
      ["time in DynamoDB per claim", ms(cost.dynamodb_ms_per_claim)],
      ["upstream calls per claim", String(cost.upstream_calls_per_claim)],
    ]);

    sequential = await sequentialClaims(rig, 100, SEQUENTIAL_CLAIMS);
    section(`Sequential claims at 100 ms upstream latency (${sequential.claims} claims)`, [
      ["median", ms(sequential.median_ms), `target <= 2 x 100 + 50 = 250 ms: ${expectThat(sequential.median_ms <= 250, `sequential median ${sequential.median_ms} ms > 250 ms`)}`],
      ["p99", ms(sequential.p99_ms)],
      ["time in DynamoDB per claim", ms(sequential.dynamodb_ms_per_claim), `${sequential.dynamodb_writes_per_claim} writes + ${sequential.dynamodb_reads_per_claim} reads, one after another`],
      ["upstream calls per claim", String(sequential.upstream_calls_per_claim)],
    ]);
  } finally {
    await rig.close();
  }

  const sync = await syncOf300();
  const first = sync.first as Record<string, number>;
  const steady = sync.steady as Record<string, number>;
  section(`Sync of ${SYNC_KEYS} keys (jobs runner, upstream latency 0 ms)`, [
    ["first sync: list calls / time", `${first.list_calls} / ${ms(first.ms)}`, `${first.usage_written} usage rows written, ${first.upstream_calls} upstream calls`],
    ["steady sync: list calls / time", `${steady.list_calls} / ${ms(steady.ms)}`, `${steady.usage_written} usage rows written, ${steady.dynamodb_writes} DynamoDB writes`],
  ]);

  const workDir = await mkdtemp(join(tmpdir(), "wkm-bench-"));
  let bundleFigures;
  try {
    bundleFigures = await bundles(workDir);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  section("Bundles (esbuild, minified, node20 target)", [
    ["API Lambda bundle", kb(bundleFigures.api_bundle_bytes)],
    ["jobs Lambda bundle", kb(bundleFigures.jobs_bundle_bytes)],
    ["API handler cold import (median of 5)", ms(bundleFigures.api_cold_import_ms), `whole node process ${ms(bundleFigures.api_cold_process_ms)}`],
    ["attendee pages JavaScript, gzipped", kb(bundleFigures.web_gzip_bytes.attendee), `organizer ${kb(bundleFigures.web_gzip_bytes.organizer)}, projector ${kb(bundleFigures.web_gzip_bytes.projector)}`],
  ]);

  const totalMs = performance.now() - benchStarted;
  console.log(`\nLoad average before / after: ${loadBefore.toFixed(1)} / ${loadavg()[0]!.toFixed(1)} (${cpus().length} CPUs).`);
  console.log(`Bench finished in ${(totalMs / 1000).toFixed(1)} s. ${broken.length ? `BROKEN: ${broken.join("; ")}` : "Every promise held."}`);

  if (args.json) {
    const figures = {
      generated_at: new Date().toISOString(),
      machine: { node: process.version, cpus: cpus().length, cpu_model: cpus()[0]?.model.trim(), load_average_before: round(loadBefore, 2), load_average_after: round(loadavg()[0]!, 2) },
      claim_burst: bursts,
      claim_cost: cost,
      sequential_claims: sequential,
      sync,
      bundles: bundleFigures,
      bench_ms: Math.round(totalMs),
      broken,
    };
    await writeFile(args.json, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`Figures written to ${args.json}`);
  }
  if (broken.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
