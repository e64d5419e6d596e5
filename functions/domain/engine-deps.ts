import { DEFAULT_GOVERNANCE, guardrailSpec, type GovernanceMode } from "../../workshops/derive.js";
import { workspaceSpec } from "../../workshops/workspace.js";
import type { ClaimItem, Store, WorkshopRecord } from "../data/store.js";
import type { OpenRouterClient } from "../openrouter/types.js";
import { NoClaimError } from "./errors.js";
import type { WorkshopCatalog } from "./workshops.js";

export interface ClaimEngineOptions {
  store: Store;
  openrouter: OpenRouterClient;
  workshops: WorkshopCatalog;
  /** The workshop clock (epoch ms); the local stack shifts it to rehearse a timeline. */
  now: () => number;
  /** How long a RESERVED claim belongs to the attempt that reserved it. Longer than a mint can take. */
  leaseMs?: number;
  /** How long a repeated claim waits for the first one to leave RESERVED before answering with it. */
  waitMs?: number;
  pollMs?: number;
  /**
   * How keys get the workshop's allow-list (workshops/derive.ts `GovernanceMode`; the deploy's
   * `governance` setting). Default "assignment".
   */
  governance?: GovernanceMode;
  /** After a failed guardrail (or workspace) lookup, how long claims skip it before trying again. */
  guardrailRetryAfterMs?: number;
  /** Structured events; never given a plaintext key. */
  log?: (event: string, fields: Record<string, unknown>) => void;
}

/**
 * What every step of the claim engine works with, built once per engine (createClaimEngine) and
 * handed to each step: the adapters, the clock and timings, and the per-container caches.
 */
export interface EngineDeps {
  store: Store;
  openrouter: OpenRouterClient;
  workshops: WorkshopCatalog;
  now: () => number;
  leaseMs: number;
  waitMs: number;
  pollMs: number;
  log: (event: string, fields: Record<string, unknown>) => void;
  /** The workshop clock as an ISO timestamp. */
  iso: () => string;
  sleep: (ms: number) => Promise<void>;
  governance: GovernanceMode;
  /**
   * Where the workshop's keys are governed: its guardrail (assignment), or its workspace and that
   * workspace's default guardrail (workspace). From the item, else ensured once and recorded there.
   * `retryFailed`: an organizer's explicit retry does not wait out the cool-down.
   */
  governanceFor: (record: WorkshopRecord, retryFailed?: boolean) => Promise<Governance>;
  /** The guardrail id of `governanceFor`. */
  guardrailIdFor: (record: WorkshopRecord, retryFailed?: boolean) => Promise<string>;
  /** The room-code secret, read (or made) once per container. */
  roomCodeSecret: () => Promise<Buffer>;
}

export type Governance = { mode: "assignment"; guardrailId: string } | { mode: "workspace"; workspaceId: string; guardrailId: string };

export const describe = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 500);

export function createEngineDeps(opts: ClaimEngineOptions): EngineDeps {
  const { store, openrouter, workshops, now } = opts;
  const log = opts.log ?? (() => {});

  const governance = opts.governance ?? DEFAULT_GOVERNANCE;

  // The guardrail (or workspace) is ensured at most once per workshop per container, never per claim.
  // A failure is remembered for a short while, so a burst during an outage does not make one lookup
  // per claim: under "assignment" those claims get UNBOUND keys (repaired later by the sync job or an
  // organizer); under "workspace" they are refused (claims.ts `mint`).
  const ensured = new Map<string, { value: Promise<Governance>; failed: boolean }>();
  const guardrailRetryAfterMs = opts.guardrailRetryAfterMs ?? 30_000;

  async function ensure(record: WorkshopRecord): Promise<Governance> {
    const slug = record.config.slug;
    if (governance === "workspace") {
      const ws = await openrouter.ensureWorkspace(workspaceSpec(record.config, record.key_namespace));
      await store.setWorkspace(slug, ws, now());
      workshops.invalidate(slug);
      log("workspace_ensured", { slug, workspace_id: ws.workspaceId, guardrail_id: ws.guardrailId });
      return { mode: "workspace", ...ws };
    }
    const g = await openrouter.ensureGuardrail(guardrailSpec(record.config, record.key_namespace));
    await store.setGuardrailId(slug, g.id, now());
    workshops.invalidate(slug);
    log("guardrail_ensured", { slug, guardrail_id: g.id });
    return { mode: "assignment", guardrailId: g.id };
  }

  function governanceFor(record: WorkshopRecord, retryFailed = false): Promise<Governance> {
    if (governance === "workspace" && record.workspace_id && record.guardrail_id) {
      return Promise.resolve({ mode: "workspace", workspaceId: record.workspace_id, guardrailId: record.guardrail_id });
    }
    if (governance === "assignment" && record.guardrail_id) return Promise.resolve({ mode: "assignment", guardrailId: record.guardrail_id });
    const slug = record.config.slug;
    const cached = ensured.get(slug);
    if (cached && !(retryFailed && cached.failed)) return cached.value;
    const entry = { failed: false, value: ensure(record) };
    ensured.set(slug, entry);
    entry.value.catch((err) => {
      entry.failed = true;
      log(governance === "workspace" ? "workspace_ensure_failed" : "guardrail_ensure_failed", { slug, error: describe(err) });
      setTimeout(() => ensured.get(slug) === entry && ensured.delete(slug), guardrailRetryAfterMs).unref();
    });
    return entry.value;
  }

  // The room-code secret, read (or made) once per container; a failed read is tried again next time.
  let roomCodeSecret: Promise<Buffer> | undefined;
  function secret(): Promise<Buffer> {
    if (!roomCodeSecret) {
      const pending = store.roomCodeSecret(now());
      roomCodeSecret = pending;
      pending.catch(() => roomCodeSecret === pending && (roomCodeSecret = undefined));
    }
    return roomCodeSecret;
  }

  return {
    store,
    openrouter,
    workshops,
    now,
    leaseMs: opts.leaseMs ?? 90_000,
    waitMs: opts.waitMs ?? 10_000,
    pollMs: opts.pollMs ?? 100,
    log,
    iso: () => new Date(now()).toISOString(),
    sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
    governance,
    governanceFor,
    guardrailIdFor: (record, retryFailed) => governanceFor(record, retryFailed).then((g) => g.guardrailId),
    roomCodeSecret: secret,
  };
}

export async function requireClaim(d: EngineDeps, slug: string, userId: string, audience: "attendee" | "organizer"): Promise<ClaimItem> {
  const c = await d.store.getClaim(slug, userId);
  if (!c) throw new NoClaimError(slug, audience);
  return c;
}
