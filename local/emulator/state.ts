import { createHash, randomBytes, randomUUID } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
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

/**
 * A workspace (organization accounts only). Its default guardrail governs every key created in it,
 * with no assignment; the guardrail exists (as a GuardrailRecord with this id) only once a PATCH
 * has configured it: before, GET /guardrails/{id} answers 404, as upstream.
 */
export interface WorkspaceRecord {
  id: string;
  name: string;
  slug: string;
  description: string | null;
  default_guardrail_id: string;
  created_at: string;
  created_by: string | null;
  updated_at: string | null;
}

/** Personal accounts have the default workspace alone; only an organization's admins create workspaces. */
export type AccountKind = "personal" | "organization";

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
  /** Absent in states written before workspaces were emulated: none but the default. */
  workspaces?: WorkspaceRecord[];
  /** Absent: "personal". */
  account_kind?: AccountKind;
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

/**
 * The guardrails that govern a key: its workspace's default guardrail (once configured) and the
 * one assigned to it. Every one of them applies to each request.
 */
export function guardrailsOf(data: EmulatorData, key: KeyRecord): GuardrailRecord[] {
  const workspace = data.workspaces?.find((w) => w.id === key.workspace_id);
  const assignment = data.assignments.find((a) => a.key_hash === key.hash);
  const ids = [workspace?.default_guardrail_id, assignment?.guardrail_id].filter((id): id is string => id !== undefined);
  return ids.map((id) => data.guardrails.find((g) => g.id === id)).filter((g): g is GuardrailRecord => g !== undefined);
}

/** What counts against the key's limit: lifetime usage, or the current window when the limit resets. */
export function limitRemaining(key: KeyRecord, nowMs: number): number | null {
  if (key.limit === null) return null;
  const spent = key.limit_reset ? windowUsage(key, key.limit_reset, nowMs) : key.usage;
  return Math.max(0, roundMoney(key.limit - spent));
}

/** A data file (or its journal) the emulator cannot read. Nothing is written over it. */
export class EmulatorDataError extends Error {
  override name = "EmulatorDataError";
}

/** What one mutation touched, by id: the store journals each one as it is now (or as gone). */
export interface Touched {
  keys?: readonly string[];
  guardrails?: readonly string[];
  workspaces?: readonly string[];
  /** Key hashes whose assignment changed. */
  assignments?: readonly string[];
  /** Credits, usage, the generated management key. */
  account?: boolean;
}

/** One journal line: the touched records as they are after the mutation, `null` for removed ones. */
interface JournalEntry {
  keys?: Record<string, KeyRecord | null>;
  guardrails?: Record<string, GuardrailRecord | null>;
  workspaces?: Record<string, WorkspaceRecord | null>;
  assignments?: Record<string, AssignmentRecord | null>;
  account?: Pick<EmulatorData, "total_credits" | "total_usage" | "generated_management_key" | "account_kind">;
}

/** Journal lines between two snapshots: compaction costs one snapshot per this many mutations. */
const COMPACT_AFTER = 2_000;

/**
 * The emulator's state in memory, persisted as upstream persists it: a mutation is on disk before its
 * answer goes out. Each mutation appends one line (the records it touched, as they are now) to a
 * journal beside the data file, with one write; every COMPACT_AFTER lines, and on flush, the whole
 * state is written to the data file (temp file + rename) and the journal starts empty. Loading reads
 * the snapshot and replays the journal over it; replaying a line the snapshot already holds sets the
 * same values again, so a crash between snapshot and truncation loses nothing. A process killed at
 * any moment loses at most the mutation it had not answered yet.
 */
export class EmulatorStore {
  readonly data: EmulatorData;
  private readonly file: string | undefined;
  private readonly journalFile: string | undefined;
  private journalFd: number | undefined;
  private journalLines = 0;

  constructor(file: string | undefined, totalCredits: number) {
    this.file = file;
    this.journalFile = file ? `${file}.journal` : undefined;
    this.data = file && existsSync(file) ? readSnapshot(file) : newEmulatorData(totalCredits);
    if (this.journalFile && existsSync(this.journalFile)) {
      const replayed = replayJournal(this.journalFile, this.data);
      if (replayed > 0) this.compact();
    }
  }

  /** Call after every mutation, before answering: journals what it touched. */
  commit(touched: Touched): void {
    if (!this.journalFile) return;
    const entry: JournalEntry = {};
    const d = this.data;
    if (touched.keys?.length) entry.keys = Object.fromEntries(touched.keys.map((h) => [h, d.keys.find((k) => k.hash === h) ?? null]));
    if (touched.guardrails?.length) entry.guardrails = Object.fromEntries(touched.guardrails.map((id) => [id, d.guardrails.find((g) => g.id === id) ?? null]));
    if (touched.workspaces?.length) entry.workspaces = Object.fromEntries(touched.workspaces.map((id) => [id, d.workspaces?.find((w) => w.id === id) ?? null]));
    if (touched.assignments?.length) {
      entry.assignments = Object.fromEntries(touched.assignments.map((h) => [h, d.assignments.find((a) => a.key_hash === h) ?? null]));
    }
    if (touched.account) entry.account = { total_credits: d.total_credits, total_usage: d.total_usage, generated_management_key: d.generated_management_key, account_kind: d.account_kind };
    if (Object.keys(entry).length === 0) return;
    if (this.journalFd === undefined) {
      mkdirSync(dirname(this.journalFile), { recursive: true });
      this.journalFd = openSync(this.journalFile, "a", 0o600);
    }
    writeSync(this.journalFd, `${JSON.stringify(entry)}\n`);
    if (++this.journalLines >= COMPACT_AFTER) this.compact();
  }

  /** Writes the whole state to the data file now and empties the journal. */
  async flush(): Promise<void> {
    if (this.file) this.compact();
  }

  private compact(): void {
    const file = this.file!;
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 1), { mode: 0o600 });
    renameSync(tmp, file);
    if (this.journalFd !== undefined) {
      closeSync(this.journalFd);
      this.journalFd = undefined;
    }
    rmSync(this.journalFile!, { force: true });
    this.journalLines = 0;
  }
}

function readSnapshot(file: string): EmulatorData {
  let parsed: EmulatorData;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8")) as EmulatorData;
  } catch {
    // Not the parser's message: it quotes the file, and the file may hold the emulator's management key.
    throw new EmulatorDataError(`${file} is not valid JSON (cut short?)`);
  }
  if (parsed?.version !== 1 || !Array.isArray(parsed.keys) || !Array.isArray(parsed.guardrails) || !Array.isArray(parsed.assignments)) {
    throw new EmulatorDataError(`${file} is not an emulator state (version 1 with keys, guardrails, assignments)`);
  }
  return parsed;
}

/** Applies every journal line to `data`; answers how many. A last line cut short was never answered: it is dropped. */
function replayJournal(journal: string, data: EmulatorData): number {
  const lines = readFileSync(journal, "utf8").split("\n");
  lines.pop(); // after the last newline: nothing, or a line whose write never finished
  let applied = 0;
  for (const [i, line] of lines.entries()) {
    let entry: JournalEntry;
    try {
      entry = JSON.parse(line) as JournalEntry;
    } catch {
      throw new EmulatorDataError(`${journal} line ${i + 1} is not a journal entry`);
    }
    applyEntry(data, entry);
    applied++;
  }
  return applied;
}

function upsert<T>(list: T[], matches: (x: T) => boolean, value: T | null): void {
  const at = list.findIndex(matches);
  if (value === null) {
    if (at >= 0) list.splice(at, 1);
  } else if (at >= 0) list[at] = value;
  else list.push(value);
}

function applyEntry(data: EmulatorData, entry: JournalEntry): void {
  for (const [hash, k] of Object.entries(entry.keys ?? {})) upsert(data.keys, (x) => x.hash === hash, k);
  for (const [id, g] of Object.entries(entry.guardrails ?? {})) upsert(data.guardrails, (x) => x.id === id, g);
  for (const [id, w] of Object.entries(entry.workspaces ?? {})) upsert((data.workspaces ??= []), (x) => x.id === id, w);
  for (const [hash, a] of Object.entries(entry.assignments ?? {})) upsert(data.assignments, (x) => x.key_hash === hash, a);
  if (entry.account) {
    data.total_credits = entry.account.total_credits;
    data.total_usage = entry.account.total_usage;
    if (entry.account.generated_management_key !== undefined) data.generated_management_key = entry.account.generated_management_key;
    if (entry.account.account_kind !== undefined) data.account_kind = entry.account.account_kind;
  }
}
