import { useEffect, useState } from "preact/hooks";
import { apiWithAge, ApiError } from "./api.js";
import { isUnreachable, onReachableAgain } from "./connectivity.js";
import { retryWhileBusy } from "./retry.js";
import { syncServerClock } from "./time.js";
import type { WorkshopStatus } from "./types.js";

/**
 * Live claim status of the open and upcoming workshops ("N of M keys left"; the others are closed
 * and shown from the catalog), polled while a page shows it and the tab is visible. One poller serves every component, so the home page and a workshop page never
 * double the traffic a room of phones sends.
 */

export const STATUS_POLL_MS = 10_000;

export interface StatusSnapshot {
  bySlug: Map<string, WorkshopStatus>;
  loaded: boolean;
  error: string | null;
}

let snapshot: StatusSnapshot = { bySlug: new Map(), loaded: false, error: null };
const subscribers = new Set<(s: StatusSnapshot) => void>();
let timer: ReturnType<typeof setTimeout> | undefined;
let inFlight: Promise<void> | undefined;

function publish(next: StatusSnapshot): void {
  snapshot = next;
  for (const s of subscribers) s(snapshot);
}

export function refreshStatus(): Promise<void> {
  // A busy API (its throttle, a 503) is asked again quietly: the page keeps the last status meanwhile.
  inFlight ??= retryWhileBusy(() => apiWithAge<{ workshops: WorkshopStatus[]; now?: string | number }>("/workshops"))
    .then(({ body, ageMs }) => {
      syncServerClock(body.now, { ageMs });
      publish({ bySlug: new Map(body.workshops.map((w) => [w.slug, w])), loaded: true, error: null });
    })
    .catch((err: unknown) => {
      const message = err instanceof ApiError ? err.message : "Live status is unavailable right now.";
      // An unreachable server is said once, by the banner on every page.
      publish({ ...snapshot, error: isUnreachable() ? null : message });
    })
    .finally(() => {
      inFlight = undefined;
    });
  return inFlight;
}

function schedule(): void {
  clearTimeout(timer);
  if (subscribers.size === 0) return;
  timer = setTimeout(async () => {
    if (document.visibilityState === "visible") await refreshStatus();
    schedule();
  }, STATUS_POLL_MS);
}

onReachableAgain(() => {
  if (subscribers.size > 0) void refreshStatus();
});

function onVisible(): void {
  if (document.visibilityState === "visible" && subscribers.size > 0) {
    void refreshStatus();
    schedule();
  }
}

export function useStatuses(): StatusSnapshot {
  const [state, setState] = useState(snapshot);
  useEffect(() => {
    subscribers.add(setState);
    if (subscribers.size === 1) {
      document.addEventListener("visibilitychange", onVisible);
      void refreshStatus();
      schedule();
    }
    setState(snapshot);
    return () => {
      subscribers.delete(setState);
      if (subscribers.size === 0) {
        clearTimeout(timer);
        document.removeEventListener("visibilitychange", onVisible);
      }
    };
  }, []);
  return state;
}
