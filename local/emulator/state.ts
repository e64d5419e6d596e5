import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Everything the emulator remembers, as one JSON document, so a rehearsal survives a restart. Keys
 * are stored by hash only: the plaintext exists once, in the POST /keys response, as upstream.
 */

export type ResetInterval = "daily" | "weekly" | "monthly";

/** Spend in the current UTC day/week/month; `period` says which one, so a stale window reads as 0. */
export interface UsageWindow {
  period: string;
  usd: number;
}

export interface KeyRecord {
  hash: string;
  name: string;
  label: string;
  disabled: boolean;
  limit: number | null;
  limit_reset: ResetInterval | null;
  include_byok_in_limit: boolean;
  usage: number;
  usage_windows: Record<ResetInterval, UsageWindow>;
  created_at: string;
  updated_at: string | null;
  expires_at: string | null;
  workspace_id: string;
  creator_user_id: string;
}

export interface GuardrailRecord {
  id: string;
  name: string;
  description: string | null;
  allowed_models: string[] | null;
  allowed_providers: string[] | null;
  ignored_models: string[] | null;
  ignored_providers: string[] | null;
  enforce_zdr: boolean | null;
  limit_usd: number | null;
  reset_interval: ResetInterval | null;
  include_byok_in_budgets: boolean;
  created_at: string;
  updated_at: string | null;
  workspace_id: string | null;
}

/** A key holds at most one guardrail, so assignments are keyed by key hash. */
export interface AssignmentRecord {
  id: string;
  key_hash: string;
  guardrail_id: string;
  assigned_by: string | null;
  created_at: string;
}

export interface EmulatorData {
  version: 1;
  default_workspace_id: string;
  user_id: string;
  /** Only when the emulator generated its own management key: so a restart keeps accepting it. */
  generated_management_key?: string;
  total_credits: number;
  total_usage: number;
  /** In creation order: GET /keys pages over this order. */
  keys: KeyRecord[];
  guardrails: GuardrailRecord[];
  assignments: AssignmentRecord[];
}

export function newEmulatorData(totalCredits: number): EmulatorData {
  return {
    version: 1,
    default_workspace_id: randomUUID(),
    user_id: `user_${randomBytes(14).toString("hex")}`,
    total_credits: totalCredits,
    total_usage: 0,
    keys: [],
    guardrails: [],
    assignments: [],
  };
}

export function generateKey(): string {
  return `sk-or-v1-${randomBytes(32).toString("hex")}`;
}

export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** Upstream shows a key as its prefix, three characters, an ellipsis and the last four. */
export function keyLabel(key: string): string {
  const secret = key.slice("sk-or-v1-".length);
  return `sk-or-v1-${secret.slice(0, 3)}...${secret.slice(-4)}`;
}

export function usagePeriods(nowMs: number): Record<ResetInterval, string> {
  const d = new Date(nowMs);
  const day = d.toISOString().slice(0, 10);
  // Weeks run Monday to Sunday (UTC), as upstream's usage_weekly.
  const monday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7)));
  return { daily: day, weekly: monday.toISOString().slice(0, 10), monthly: day.slice(0, 7) };
}

export function windowUsage(key: KeyRecord, interval: ResetInterval, nowMs: number): number {
  const w = key.usage_windows[interval];
  return w.period === usagePeriods(nowMs)[interval] ? w.usd : 0;
}

export function emptyWindows(nowMs: number): Record<ResetInterval, UsageWindow> {
  const p = usagePeriods(nowMs);
  return { daily: { period: p.daily, usd: 0 }, weekly: { period: p.weekly, usd: 0 }, monthly: { period: p.monthly, usd: 0 } };
}

/** USD kept to 1e-10 so repeated float additions don't show as 0.30000000000000004. */
export function roundMoney(x: number): number {
  return Math.round(x * 1e10) / 1e10;
}

export function addUsage(key: KeyRecord, usd: number, nowMs: number): void {
  const p = usagePeriods(nowMs);
  key.usage = roundMoney(key.usage + usd);
  for (const interval of ["daily", "weekly", "monthly"] as const) {
    const w = key.usage_windows[interval];
    key.usage_windows[interval] = w.period === p[interval] ? { period: w.period, usd: roundMoney(w.usd + usd) } : { period: p[interval], usd: roundMoney(usd) };
  }
}

/** What counts against the key's limit: lifetime usage, or the current window when the limit resets. */
export function limitRemaining(key: KeyRecord, nowMs: number): number | null {
  if (key.limit === null) return null;
  const spent = key.limit_reset ? windowUsage(key, key.limit_reset, nowMs) : key.usage;
  return Math.max(0, roundMoney(key.limit - spent));
}

/**
 * Loads the data file once at start, and writes it back after mutations: debounced, and atomically
 * (temp file + rename), so a crash mid-write never leaves half a JSON document.
 */
export class EmulatorStore {
  readonly data: EmulatorData;
  private readonly file: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(file: string | undefined, totalCredits: number) {
    this.file = file;
    if (file && existsSync(file)) {
      let parsed: EmulatorData;
      try {
        parsed = JSON.parse(readFileSync(file, "utf8")) as EmulatorData;
      } catch {
        // Not the parser's message: it quotes the file, and the file may hold the emulator's management key.
        throw new Error(`Emulator data file ${file} is not valid JSON; move it away to start fresh`);
      }
      if (parsed?.version !== 1 || !Array.isArray(parsed.keys) || !Array.isArray(parsed.guardrails) || !Array.isArray(parsed.assignments)) {
        throw new Error(`Emulator data file ${file} is not an emulator state (version 1 with keys, guardrails, assignments); move it away to start fresh`);
      }
      this.data = parsed;
    } else {
      this.data = newEmulatorData(totalCredits);
    }
  }

  /** Call after every mutation. */
  changed(): void {
    if (!this.file || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: unknown) => {
        console.error(`emulator: could not write ${this.file}: ${err instanceof Error ? err.message : String(err)}`);
      });
    }, 20);
    this.timer.unref?.();
  }

  /** Writes now (and waits for any write in progress). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const file = this.file;
    if (!file) return Promise.resolve();
    const snapshot = JSON.stringify(this.data, null, 1);
    this.writing = this.writing.catch(() => undefined).then(async () => {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, snapshot, { mode: 0o600 });
      await rename(tmp, file);
    });
    return this.writing;
  }
}
