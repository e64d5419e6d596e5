import { testWorkshop } from "../test-stack.js";
import { effectiveCapacity, keyNamePrefix } from "../../workshops/derive.js";
import type { Workshop } from "../../workshops/schema.js";
import { MANAGEMENT_OPERATIONS, median, percentile, type ClaimTarget } from "./rig.js";

/**
 * The claim scenarios, over any ClaimTarget (every part in one process, rig.ts, or each in its own,
 * split.ts): a burst of attendees on fewer places, and claims one after another. run.ts reports
 * them; claims-probe.ts runs them in another commit's tree for `npm run bench -- --against`, so this
 * file leans only on what rig.ts has long offered.
 */

export const BURST_USERS = 300;
export const BURST_CAPACITY = 250;

export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** A workshop open now with the given capacity; budget $2 and a cap that leaves max_keys binding. */
export function benchWorkshop(slug: string, maxKeys: number, extra: Parameters<typeof testWorkshop>[2] = {}): Workshop {
  return testWorkshop(slug, Date.now(), { ...extra, openrouter: { budget_usd: 2, guardrail: { cap_usd: 2 * maxKeys + 200, reset_interval: "monthly", max_keys: maxKeys } } });
}

export const latencyFaults = (latencyMs: number) => (latencyMs ? Object.fromEntries(MANAGEMENT_OPERATIONS.map((op) => [op, { latencyMs }])) : {});

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

/** 300 attendees claim at once on 250 places. */
export async function claimBurst(target: ClaimTarget, label: string, latencyMs: number, parts?: () => { dynamo?: number; emulator?: number }) {
  const w = benchWorkshop(`burst-${label}`, BURST_CAPACITY);
  await target.openWorkshop(w);
  const users = await target.attendees(`burst-${label}`, BURST_USERS);
  // Warm the token verifier's JWKS cache and the workshop cache, as any container that served a request has.
  const [warm] = await target.attendees(`warm-${label}`, 1);
  await target.request("GET", `/api/workshops/${w.slug}/key`, warm!.token);
  await target.setFaults(latencyFaults(latencyMs));

  const apiCpu = await target.apiCpuMs();
  const partsBefore = parts?.();
  const started = performance.now();
  const answers: Answer[] = await Promise.all(
    users.map(async (u) => {
      const t = performance.now();
      const res = await target.request("POST", `/api/workshops/${w.slug}/claim`, u.token);
      return { status: res.status, ms: performance.now() - t, body: parseBody(res.text) };
    }),
  );
  const wallMs = performance.now() - started;
  const apiCpuMs = (await target.apiCpuMs()) - apiCpu;
  const partsAfter = parts?.();
  await target.setFaults({});

  const granted = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status === 409 && a.body.error?.code === "sold_out");
  const failed = answers.length - granted.length - refused.length;
  const keys = granted.map((a) => a.body.key?.key ?? "");
  const names = (await target.upstreamKeyNames()).filter((n) => n.startsWith(keyNamePrefix(w)));
  const perName = new Map<string, number>();
  for (const n of names) perName.set(n, (perName.get(n) ?? 0) + 1);
  const ledger = await target.store.getLedger(w.slug);
  const capacity = effectiveCapacity(w);
  const latencies = answers.map((a) => a.ms);
  const perAnswer = (before?: number, after?: number) => (before === undefined || after === undefined ? null : round((after - before) / BURST_USERS, 2));
  return {
    granted: granted.length,
    refused: refused.length,
    failed,
    oversold: Math.max(0, granted.length - capacity, ledger.claimed - capacity, names.length - capacity),
    duplicateKeys: keys.length - new Set(keys).size + [...perName.values()].reduce((s, n) => s + n - 1, 0),
    wallMs: Math.round(wallMs),
    p50Ms: Math.round(median(latencies)),
    p99Ms: Math.round(percentile(latencies, 99)),
    apiCpuMsPerAnswer: round(apiCpuMs / BURST_USERS, 2),
    dynamoCpuMsPerAnswer: perAnswer(partsBefore?.dynamo, partsAfter?.dynamo),
    emulatorCpuMsPerAnswer: perAnswer(partsBefore?.emulator, partsAfter?.emulator),
  };
}

/** Claims one after another: wall time per claim, and the API process's CPU per claim. */
export async function sequentialClaims(target: ClaimTarget, label: string, latencyMs: number, n: number, onMeasureStart?: () => void) {
  const w = benchWorkshop(`seq-${label}`, n + 10);
  await target.openWorkshop(w);
  const users = await target.attendees(`seq-${label}`, n + 3);
  await target.setFaults(latencyFaults(latencyMs));
  // Three warm-up claims: JWKS, workshop cache, sockets, JIT.
  for (const u of users.slice(0, 3)) await target.request("POST", `/api/workshops/${w.slug}/claim`, u.token);
  const wall: number[] = [];
  const cpu: number[] = [];
  onMeasureStart?.();
  for (const u of users.slice(3)) {
    const c = await target.apiCpuMs();
    const t = performance.now();
    const res = await target.request("POST", `/api/workshops/${w.slug}/claim`, u.token);
    wall.push(performance.now() - t);
    cpu.push((await target.apiCpuMs()) - c);
    if (res.status !== 201) throw new Error(`sequential claim answered ${res.status}: ${res.text.slice(0, 200)}`);
  }
  await target.setFaults({});
  return { medianMs: round(median(wall)), p99Ms: round(percentile(wall, 99)), apiCpuMsPerClaim: round(median(cpu), 2) };
}
