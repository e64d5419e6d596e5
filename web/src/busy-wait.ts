import { useEffect, useMemo, useState } from "preact/hooks";
import { queuedMessage, type RetryHooks } from "./retry.js";

/**
 * The page's side of retry.ts: hooks to hand `apiPatiently`, and the "you're in the queue" sentence
 * while a call of this component waits for the busy API (null when nothing waits). The sentence
 * stays while the call is tried again, so it does not flicker between two waits; `done()` clears it.
 */
export function useBusyWait(): { queued: string | null; hooks: RetryHooks; done: () => void } {
  // Epoch ms of the next try; 0 while a retry is in flight; null when nothing waits.
  const [nextTryAt, setNextTryAt] = useState<number | null>(null);
  const [, tick] = useState(0);
  useEffect(() => {
    if (nextTryAt === null || nextTryAt === 0) return;
    const id = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(id);
  }, [nextTryAt]);
  const hooks = useMemo<RetryHooks>(() => ({ onWait: (ms) => setNextTryAt(Date.now() + ms), onRetry: () => setNextTryAt(0) }), []);
  const done = useMemo(() => () => setNextTryAt(null), []);
  const queued = nextTryAt === null ? null : queuedMessage(nextTryAt === 0 ? 0 : Math.ceil((nextTryAt - Date.now()) / 1000));
  return { queued, hooks, done };
}
