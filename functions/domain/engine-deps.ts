import { guardrailSpec } from "../../workshops/derive.js";
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
  /** After a failed guardrail lookup, how long claims skip it (and go UNBOUND) before trying again. */
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
  /** The workshop's guardrail id; `retryFailed`: an organizer's explicit retry does not wait out the cool-down. */
  guardrailIdFor: (record: WorkshopRecord, retryFailed?: boolean) => Promise<string>;
  /** The room-code secret, read (or made) once per container. */
  roomCodeSecret: () => Promise<Buffer>;
}

export const describe = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 500);

export function createEngineDeps(opts: ClaimEngineOptions): EngineDeps {
  const { store, openrouter, workshops, now } = opts;
  const log = opts.log ?? (() => {});

  // The guardrail is ensured at most once per workshop per container, never per claim. A failure is
  // remembered for a short while, so a burst during an outage gets UNBOUND keys (repaired later by
  // the sync job or an organizer) instead of one guardrail lookup per claim.
  const guardrails = new Map<string, { id: Promise<string>; failed: boolean }>();
  const guardrailRetryAfterMs = opts.guardrailRetryAfterMs ?? 30_000;

  function guardrailIdFor(record: WorkshopRecord, retryFailed = false): Promise<string> {
    if (record.guardrail_id) return Promise.resolve(record.guardrail_id);
    const slug = record.config.slug;
    const cached = guardrails.get(slug);
    if (cached && !(retryFailed && cached.failed)) return cached.id;
    const entry = {
      failed: false,
      id: (async () => {
        const g = await openrouter.ensureGuardrail(guardrailSpec(record.config, record.key_namespace));
        await store.setGuardrailId(slug, g.id, now());
        workshops.invalidate(slug);
        log("guardrail_ensured", { slug, guardrail_id: g.id });
        return g.id;
      })(),
    };
    guardrails.set(slug, entry);
    entry.id.catch((err) => {
      entry.failed = true;
      log("guardrail_ensure_failed", { slug, error: describe(err) });
      setTimeout(() => guardrails.get(slug) === entry && guardrails.delete(slug), guardrailRetryAfterMs).unref();
    });
    return entry.id;
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
    guardrailIdFor,
    roomCodeSecret: secret,
  };
}

export async function requireClaim(d: EngineDeps, slug: string, userId: string, audience: "attendee" | "organizer"): Promise<ClaimItem> {
  const c = await d.store.getClaim(slug, userId);
  if (!c) throw new NoClaimError(slug, audience);
  return c;
}
