import { useEffect, useState } from "preact/hooks";

/**
 * Whether the API can be reached. Every API call reports what happened; once one fails to reach
 * the server, a probe retries with growing pauses (1 s, 2 s, 4 s … 30 s, with jitter so a room of
 * phones does not knock in step) until the server answers. Then every page that was waiting is
 * told, and loads again.
 */

export interface Reachability {
  down: boolean;
  /** Epoch ms (local clock) of the next automatic try while down. */
  nextTryAt: number | null;
}

const BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000];

let state: Reachability = { down: false, nextTryAt: null };
let failures = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
let probe: (() => Promise<unknown>) | undefined;
const watchers = new Set<(s: Reachability) => void>();
const backListeners = new Set<() => void>();

function publish(next: Reachability): void {
  state = next;
  for (const w of watchers) w(state);
}

function scheduleProbe(): void {
  clearTimeout(timer);
  const base = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]!;
  const wait = Math.round(base * (0.8 + Math.random() * 0.4));
  publish({ down: true, nextTryAt: Date.now() + wait });
  timer = setTimeout(() => void tryNow(), wait);
}

/** Asks the server again at once (the banner's button, or the scheduled probe). */
export async function tryNow(): Promise<void> {
  clearTimeout(timer);
  // The probe is an ordinary API call: it reports up or down itself.
  await probe?.().catch(() => undefined);
  if (state.down) scheduleProbe();
}

/** The API call the probe repeats (a cheap public read); set once by the API module. */
export function setProbe(call: () => Promise<unknown>): void {
  probe = call;
}

export function reportUnreachable(): void {
  failures += 1;
  if (!state.down || timer === undefined) scheduleProbe();
}

export function reportReachable(): void {
  failures = 0;
  if (!state.down) return;
  clearTimeout(timer);
  timer = undefined;
  publish({ down: false, nextTryAt: null });
  for (const l of backListeners) l();
}

/** Runs `listener` each time the server can be reached again after being down. */
export function onReachableAgain(listener: () => void): () => void {
  backListeners.add(listener);
  return () => backListeners.delete(listener);
}

export function isUnreachable(): boolean {
  return state.down;
}

export function useReachability(): Reachability {
  const [s, setS] = useState(state);
  useEffect(() => {
    watchers.add(setS);
    setS(state);
    return () => {
      watchers.delete(setS);
    };
  }, []);
  return s;
}
