import { guardrailSpec, keyExpiresAt, type GovernanceMode } from "../../workshops/derive.js";
import { workspaceSpec } from "../../workshops/workspace.js";
import type { Workshop } from "../../workshops/schema.js";
import type { Housekeeping } from "../data/housekeeping.js";
import type { Store, WorkshopRecord } from "../data/store.js";
import type { ClaimEngine } from "../domain/claims.js";
import type { JobInput, JobName } from "../domain/timetable.js";
import { KEYS_PAGE_SIZE } from "../openrouter/client.js";
import { isRetryable, redactKeys } from "../openrouter/errors.js";
import type { KeyInfo, OpenRouterClient } from "../openrouter/types.js";
import { forEachLimited } from "../concurrency.js";
import { spendSampleAt, type SyncPlan } from "./plan.js";

export interface JobDeps {
  store: Store;
  housekeeping: Housekeeping;
  /** Take-over of claims stuck in RESERVED, and a new key for a claim whose key upstream lost (both mint). */
  engine: Pick<ClaimEngine, "takeOverStuck" | "reissueMissingKey">;
  openrouter: OpenRouterClient;
  /** The workshop clock (epoch ms); the local stack shifts it to rehearse a timeline. */
  now: () => number;
  /** Upstream calls in flight at once when a job touches keys one by one (disable, delete). Default 16. */
  upstreamConcurrency?: number;
  /** How keys are governed (workshops/derive.ts); under "workspace" a run reads the workshop's own workspace. Default "assignment". */
  governance?: GovernanceMode;
}

export interface RunLimits {
  /**
   * Milliseconds this invocation has left (Lambda's `getRemainingTimeInMillis`). Once less than
   * `reserveMs` is left, the run starts no new per-key work: it finishes what is in flight, reports
   * the rest as deferred, and the next run (a retry, or the next sync) carries on from there.
   */
  timeLeftMs?: () => number;
  /** Default 50 s: more than one upstream call's whole retry budget in the jobs Lambda (45 s). */
  reserveMs?: number;
}

/** What a run did: counts only, never a key. Logged as one JSON line by the handler. */
export interface JobSummary {
  job: JobName;
  slug: string;
  /** The workshop-clock time the run started. */
  at: string;
  ms: number;
  /** False when some step failed; `errors` says which. The next sync repairs what it can. */
  ok: boolean;
  /** Keys of the workshop upstream (sync, close, expire). */
  keys?: number;
  usage_written?: number;
  spend?: { at: string; usage_usd: number; keys: number };
  bound?: number;
  taken_over?: number;
  /** Stuck claims that never held a slot and found none free now: deleted, nothing minted. */
  stuck_refused?: number;
  orphans_deleted?: number;
  /** Claims that should hold a live key which OpenRouter does not have (404: deleted by hand, an emulator reset). */
  missing_upstream?: number;
  /** Of those, claims that got a new key in the same slot (the engine's reissue). */
  reissued?: number;
  /** Claims whose key someone disabled upstream outside the minter: usage recorded, reported. */
  disabled_upstream?: number;
  keys_disabled?: number;
  /** Keys deleted upstream after their final usage was recorded (see plan.ts FINAL_USAGE_AFTER_MS). */
  keys_deleted?: number;
  /** Per-key steps left for the next run because this one ran out of time. */
  deferred?: number;
  claims_expired?: number;
  keys_scrubbed?: number;
  guardrail_id?: string;
  /** Governance "workspace": the workshop's workspace (the open job). */
  workspace_id?: string;
  guardrail_recorded?: boolean;
  ledger_created?: boolean;
  /** The account's credit, what every live workshop can still spend, and the difference when short. */
  credit_available_usd?: number;
  worst_case_spend_usd?: number;
  credit_shortfall_usd?: number;
  warnings: string[];
  errors: string[];
}

/** The credit check's figures, in a run's summary or a tick's. */
export type CreditFigures = Pick<JobSummary, "credit_available_usd" | "worst_case_spend_usd" | "credit_shortfall_usd" | "warnings">;

/**
 * Where a run gets the enabled keys of its workshop: by default its own paged GET /keys; in a tick,
 * the tick's one listing of the account, shared by every workshop it syncs (tick.ts). A listing may
 * hold other workshops' keys too: the plans pick the workshop's own by name.
 */
export type EnabledKeysOf = (record: WorkshopRecord) => Promise<KeyInfo[]>;

const MAX_REPORTED_ERRORS = 10;
/** Extra tries of one page of GET /keys, on top of the client's own bounded retries. */
const PAGE_TRIES = 3;
export const STORE_CONCURRENCY = 16;

/** Whether the invocation has less than `reserveMs` left: no new work is started then. */
export function outOfTime(limits: RunLimits): boolean {
  const left = limits.timeLeftMs?.();
  return left !== undefined && left < (limits.reserveMs ?? 50_000);
}

/** Every page of GET /keys, each with a few tries on top of the client's own. */
export async function listAccountKeys(openrouter: Pick<OpenRouterClient, "listKeysPage">, opts: { includeDisabled: boolean; workspaceId?: string }): Promise<KeyInfo[]> {
  const all: KeyInfo[] = [];
  for (let offset = 0; ; ) {
    const page = await withTries(() => openrouter.listKeysPage(offset, opts));
    all.push(...page);
    offset += page.length;
    if (page.length < KEYS_PAGE_SIZE) return all;
  }
}

/** The client already retries within its budget; a job has minutes, so a call gets a few more tries. */
export async function withTries<T>(call: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await call();
    } catch (err) {
      if (!isRetryable(err) || n >= PAGE_TRIES) throw err;
    }
  }
}

/**
 * One run of one job for one workshop: what the jobs share (the workshop record, the summary and its
 * errors, the key listing, the invocation's time limit, per-key fan-out with one retry).
 */
export class JobRun {
  readonly w: Workshop;
  readonly summary: JobSummary;
  private readonly concurrency: number;

  constructor(
    input: JobInput,
    private current: WorkshopRecord,
    readonly deps: JobDeps,
    private readonly limits: RunLimits,
    private readonly enabledKeysOf?: EnabledKeysOf,
  ) {
    this.w = current.config;
    this.concurrency = deps.upstreamConcurrency ?? 16;
    this.summary = { job: input.job, slug: input.slug, at: new Date(deps.now()).toISOString(), ms: 0, ok: true, warnings: [], errors: [] };
  }

  /** The workshop item, with the guardrail id once a step has recorded it. */
  get record(): WorkshopRecord {
    return this.current;
  }

  fail(step: string, err: unknown): void {
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    if (this.summary.errors.length < MAX_REPORTED_ERRORS) this.summary.errors.push(redactKeys(`${step}: ${text}`).slice(0, 300));
    this.summary.ok = false;
  }

  finish(startedAt: number): JobSummary {
    this.summary.ms = Math.round(performance.now() - startedAt);
    return this.summary;
  }

  /**
   * Every page of GET /keys: the enabled keys (from the tick's listing when there is one), or (retire)
   * every key the account has. Under governance "workspace", those of the workshop's own workspace,
   * listed here: the tick's shared listing of the default workspace holds none of them.
   */
  async listKeys(opts: { includeDisabled: boolean }): Promise<KeyInfo[]> {
    const workspaceId = this.deps.governance === "workspace" ? (await this.governance()).workspaceId : undefined;
    if (workspaceId) return listAccountKeys(this.deps.openrouter, { ...opts, workspaceId });
    if (!opts.includeDisabled && this.enabledKeysOf) return this.enabledKeysOf(this.record);
    return listAccountKeys(this.deps.openrouter, opts);
  }

  withTries<T>(call: () => Promise<T>): Promise<T> {
    return withTries(call);
  }

  async writeSpendSample(spend: SyncPlan["spend"], at: number): Promise<void> {
    const sample = { at: spendSampleAt(at), ...spend };
    try {
      await this.deps.housekeeping.putSpendSample(this.w.slug, sample, keyExpiresAt(this.w));
      this.summary.spend = sample;
    } catch (err) {
      this.fail("spend sample", err);
    }
  }

  async deleteOrphans(orphans: readonly KeyInfo[]): Promise<void> {
    let deleted = 0;
    // deleteKey answers false when the key was already gone (an overlapping run got it first).
    const { failed } = await this.upstreamEach(orphans, async (k) => {
      if (await this.deps.openrouter.deleteKey(k.hash)) deleted++;
    });
    this.summary.orphans_deleted = (this.summary.orphans_deleted ?? 0) + deleted;
    for (const f of failed.slice(0, 3)) this.fail("delete orphan key", f.error);
  }

  /** The workshop's guardrail id (under "workspace", its workspace's default guardrail), made sure of upstream and recorded when the item lacks it. */
  async guardrailId(): Promise<string> {
    if (this.deps.governance === "workspace") return (await this.governance()).guardrailId;
    if (this.record.guardrail_id) return this.record.guardrail_id;
    const g = await this.deps.openrouter.ensureGuardrail(guardrailSpec(this.w, this.record.key_namespace));
    await this.deps.store.setGuardrailId(this.w.slug, g.id, this.deps.now());
    this.current = { ...this.current, guardrail_id: g.id };
    return g.id;
  }

  /**
   * Governance "workspace": the workshop's workspace and its default guardrail, from the item, else
   * ensured upstream (created, its default guardrail configured) and both ids recorded.
   */
  async governance(): Promise<{ workspaceId: string; guardrailId: string; recorded: boolean }> {
    if (this.record.workspace_id && this.record.guardrail_id) return { workspaceId: this.record.workspace_id, guardrailId: this.record.guardrail_id, recorded: false };
    const ws = await this.deps.openrouter.ensureWorkspace(workspaceSpec(this.w, this.record.key_namespace));
    await this.deps.store.setWorkspace(this.w.slug, ws, this.deps.now());
    this.current = { ...this.current, workspace_id: ws.workspaceId, guardrail_id: ws.guardrailId };
    return { ...ws, recorded: true };
  }

  /**
   * Runs one upstream call per item, a few at a time, then retries the failures once more. Answers
   * the items that failed, and how many were not started for want of time (see `eachInTime`).
   */
  async upstreamEach<T>(items: readonly T[], call: (item: T) => Promise<unknown>): Promise<{ failed: { item: T; error: unknown }[]; notStarted: number }> {
    let notStarted = 0;
    const attempt = async (batch: readonly T[]) => {
      const failed: { item: T; error: unknown }[] = [];
      notStarted += (
        await this.eachInTime(batch, this.concurrency, async (item) => {
          try {
            await call(item);
          } catch (error) {
            failed.push({ item, error });
          }
        })
      ).length;
      return failed;
    };
    const first = await attempt(items);
    if (first.length === 0) return { failed: first, notStarted };
    const second = await attempt(first.filter((f) => isRetryable(f.error)).map((f) => f.item));
    return { failed: [...first.filter((f) => !isRetryable(f.error)), ...second], notStarted };
  }

  /**
   * `forEachLimited` that starts no new item once the invocation is nearly out of time; answers the
   * items it did not start (counted in the summary's `deferred`, for the next run).
   */
  async eachInTime<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<T[]> {
    const notStarted: T[] = [];
    await forEachLimited(items, limit, async (item) => {
      if (this.outOfTime()) notStarted.push(item);
      else await fn(item);
    });
    if (notStarted.length > 0) {
      const first = (this.summary.deferred ?? 0) === 0;
      this.summary.deferred = (this.summary.deferred ?? 0) + notStarted.length;
      if (first) this.fail("time", new Error("the invocation ran out of time; the next run carries on where this one stopped"));
    }
    return notStarted;
  }

  private outOfTime(): boolean {
    return outOfTime(this.limits);
  }
}
