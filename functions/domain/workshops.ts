import { claimWindow } from "../../workshops/derive.js";
import { InvalidWorkshopItemError } from "../data/errors.js";
import type { Store, WorkshopRecord } from "../data/store.js";
import type { CatalogEntry } from "../data/tables.js";
import { WorkshopNotFoundError } from "./errors.js";

/**
 * Workshop CONFIG items and the deployment's workshop index, cached per container for a short time:
 * every request needs its workshop, and the deploy changes them rarely. A changed item is seen
 * within `ttlMs`. Nothing here scans the table: a workshop is read by its key, the list of
 * workshops is the one index item the deploy writes (data/tables.ts).
 */
export interface WorkshopCatalog {
  /** The workshop, or WorkshopNotFoundError. */
  get(slug: string): Promise<WorkshopRecord>;
  /** Every workshop of the deployment, past ones included: slugs, windows and organizers only. */
  index(): Promise<CatalogEntry[]>;
  /**
   * The workshops whose claim window is open or upcoming at `nowMs`, in the index's order (by start).
   * Only their items are read; an index entry without a valid item is skipped and reported.
   */
  live(nowMs: number): Promise<WorkshopRecord[]>;
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
  let index: { at: number; value: Promise<CatalogEntry[]> } | undefined;

  const catalog: WorkshopCatalog = {
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
    async index() {
      if (!index || clock() - index.at > ttlMs) {
        const value = opts.store.getCatalog().then(({ entries, invalid }) => {
          for (const slug of invalid) opts.onInvalid?.(new InvalidWorkshopItemError(slug, "its entry in the workshop index is not a catalog entry"));
          return entries;
        });
        index = { at: clock(), value };
        value.catch(() => {
          index = undefined;
        });
      }
      return index.value;
    },
    async live(nowMs) {
      const live = (await catalog.index()).filter((e) => claimWindow(e, nowMs) !== "closed");
      const records = await Promise.all(
        live.map((e) =>
          catalog.get(e.slug).catch((err: unknown) => {
            // Listed but unreadable (removed since the index was cached, or an invalid item): not live.
            if (err instanceof WorkshopNotFoundError) return undefined;
            if (err instanceof InvalidWorkshopItemError) {
              opts.onInvalid?.(err);
              return undefined;
            }
            throw err;
          }),
        ),
      );
      return records.filter((r): r is WorkshopRecord => r !== undefined);
    },
    invalidate(slug) {
      if (slug === undefined) one.clear();
      else one.delete(slug);
      index = undefined;
    },
  };
  return catalog;
}
