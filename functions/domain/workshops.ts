import type { Store, WorkshopRecord } from "../data/store.js";
import { WorkshopNotFoundError } from "./errors.js";

/**
 * Workshop CONFIG items, cached per container for a short time: every request needs its workshop,
 * and the deploy changes it rarely. A changed item is seen within `ttlMs`.
 */
export interface WorkshopCatalog {
  /** The workshop, or WorkshopNotFoundError. */
  get(slug: string): Promise<WorkshopRecord>;
  /** Every workshop item (invalid items are skipped and reported through `onInvalid`). */
  list(): Promise<WorkshopRecord[]>;
  /** Forgets cached items (after this container changed one). */
  invalidate(slug?: string): void;
}

export function createWorkshopCatalog(opts: {
  store: Store;
  ttlMs?: number;
  /** Real time for the cache, not the (possibly shifted) workshop clock. */
  clock?: () => number;
  onInvalid?: (err: Error) => void;
}): WorkshopCatalog {
  const ttlMs = opts.ttlMs ?? 30_000;
  const clock = opts.clock ?? Date.now;
  const one = new Map<string, { at: number; value: Promise<WorkshopRecord | undefined> }>();
  let all: { at: number; value: Promise<WorkshopRecord[]> } | undefined;

  return {
    async get(slug) {
      let hit = one.get(slug);
      if (!hit || clock() - hit.at > ttlMs) {
        hit = { at: clock(), value: opts.store.getWorkshop(slug) };
        one.set(slug, hit);
        // A failed read is not cached.
        hit.value.catch(() => one.delete(slug));
      }
      const record = await hit.value;
      if (!record) throw new WorkshopNotFoundError(slug);
      return record;
    },
    async list() {
      if (!all || clock() - all.at > ttlMs) {
        const value = opts.store.listWorkshops().then(({ workshops, invalid }) => {
          invalid.forEach((err) => opts.onInvalid?.(err));
          return workshops;
        });
        all = { at: clock(), value };
        value.catch(() => {
          all = undefined;
        });
      }
      return all.value;
    },
    invalidate(slug) {
      if (slug === undefined) one.clear();
      else one.delete(slug);
      all = undefined;
    },
  };
}
