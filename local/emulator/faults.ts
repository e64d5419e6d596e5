/**
 * Fault injection, per operation, so tests and benchmarks can make the emulator slow, flaky, rate
 * limited or unresponsive on exactly the calls they care about. Randomness comes from a seeded
 * generator: with the same seed and the same calls, the same calls fail.
 */

/** Operation names, one per emulated endpoint. "*" in a FaultMap applies to operations without their own entry. */
export const OPERATIONS = [
  "keys.list",
  "keys.create",
  "keys.get",
  "keys.update",
  "keys.delete",
  "key.current",
  "guardrails.list",
  "guardrails.create",
  "guardrails.get",
  "guardrails.update",
  "guardrails.delete",
  "guardrails.assign",
  "guardrails.unassign",
  "guardrails.assignments",
  "assignments.list",
  "workspaces.list",
  "workspaces.create",
  "workspaces.get",
  "workspaces.delete",
  "credits",
  "chat",
  "models",
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** What an attendee key calls (GET /key answers it too); everything else is the Management API. */
const INFERENCE_OPERATIONS: readonly Operation[] = ["chat", "models", "key.current"];

/** The Management API's operations, for fault maps that spare attendees' chats. */
export const MANAGEMENT_OPERATIONS: readonly Operation[] = OPERATIONS.filter((op) => !INFERENCE_OPERATIONS.includes(op));

export interface FaultSpec {
  /** Added before the call is answered (or fails). */
  latencyMs?: number;
  /** Probability 0..1 of answering `errorStatus` (a 5xx). */
  errorRate?: number;
  /** Default 500. */
  errorStatus?: number;
  /** Probability 0..1 of answering 429 with Retry-After. */
  rateLimitRate?: number;
  /** Retry-After in seconds on injected 429s (default 1; fractions allowed). */
  retryAfterSeconds?: number;
  /** Never answer: the request is held until the client gives up or the emulator closes. */
  hang?: boolean;
}

export type FaultMap = Partial<Record<Operation | "*", FaultSpec>>;

export interface InjectedCounts {
  errors: number;
  rateLimited: number;
  hangs: number;
}

export interface EmulatorStats {
  /** Requests that reached each operation, including the ones a fault answered. */
  calls: Record<string, number>;
  injected: Record<string, InjectedCounts>;
}

/** mulberry32: tiny, fast, good enough to decide which call fails. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function validateFaults(input: unknown): FaultMap {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new Error("faults must be an object keyed by operation");
  const out: FaultMap = {};
  for (const [op, spec] of Object.entries(input as Record<string, unknown>)) {
    if (op !== "*" && !(OPERATIONS as readonly string[]).includes(op)) {
      throw new Error(`unknown operation "${op}"; known: *, ${OPERATIONS.join(", ")}`);
    }
    if (typeof spec !== "object" || spec === null) throw new Error(`faults.${op} must be an object`);
    const s = spec as Record<string, unknown>;
    const allowed = ["latencyMs", "errorRate", "errorStatus", "rateLimitRate", "retryAfterSeconds", "hang"];
    for (const k of Object.keys(s)) if (!allowed.includes(k)) throw new Error(`faults.${op}.${k} is not a fault setting`);
    for (const k of ["latencyMs", "errorRate", "errorStatus", "rateLimitRate", "retryAfterSeconds"]) {
      if (s[k] !== undefined && (typeof s[k] !== "number" || !Number.isFinite(s[k]) || (s[k] as number) < 0)) {
        throw new Error(`faults.${op}.${k} must be a non-negative number`);
      }
    }
    for (const k of ["errorRate", "rateLimitRate"]) {
      if (s[k] !== undefined && (s[k] as number) > 1) throw new Error(`faults.${op}.${k} is a probability (0..1)`);
    }
    if (s.errorStatus !== undefined && ((s.errorStatus as number) < 500 || (s.errorStatus as number) > 599)) {
      throw new Error(`faults.${op}.errorStatus must be a 5xx status`);
    }
    if (s.hang !== undefined && typeof s.hang !== "boolean") throw new Error(`faults.${op}.hang must be true or false`);
    out[op as Operation | "*"] = { ...(s as FaultSpec) };
  }
  return out;
}

/** The outcome of the dice for one call. */
export type FaultOutcome =
  | { kind: "none"; latencyMs: number }
  | { kind: "hang"; latencyMs: number }
  | { kind: "rate_limited"; latencyMs: number; retryAfterSeconds: number }
  | { kind: "error"; latencyMs: number; status: number };

export class FaultInjector {
  private faults: FaultMap;
  private readonly random: () => number;
  private counts: EmulatorStats = { calls: {}, injected: {} };

  constructor(faults: FaultMap, seed: number) {
    this.faults = validateFaults(faults);
    this.random = seededRandom(seed);
  }

  set(faults: FaultMap): void {
    this.faults = validateFaults(faults);
  }

  get(): FaultMap {
    return structuredClone(this.faults);
  }

  /** Counts the call and decides its fate. */
  decide(op: Operation): FaultOutcome {
    this.counts.calls[op] = (this.counts.calls[op] ?? 0) + 1;
    const spec = this.faults[op] ?? this.faults["*"];
    const latencyMs = spec?.latencyMs ?? 0;
    if (!spec) return { kind: "none", latencyMs };
    const injected = (this.counts.injected[op] ??= { errors: 0, rateLimited: 0, hangs: 0 });
    if (spec.hang) {
      injected.hangs++;
      return { kind: "hang", latencyMs };
    }
    if (spec.rateLimitRate && this.random() < spec.rateLimitRate) {
      injected.rateLimited++;
      return { kind: "rate_limited", latencyMs, retryAfterSeconds: spec.retryAfterSeconds ?? 1 };
    }
    if (spec.errorRate && this.random() < spec.errorRate) {
      injected.errors++;
      return { kind: "error", latencyMs, status: spec.errorStatus ?? 500 };
    }
    return { kind: "none", latencyMs };
  }

  stats(): EmulatorStats {
    return structuredClone(this.counts);
  }

  resetStats(): void {
    this.counts = { calls: {}, injected: {} };
  }
}
