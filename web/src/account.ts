import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { apiPatiently, ApiError } from "./api.js";
import { useBusyWait } from "./busy-wait.js";
import { onReachableAgain } from "./connectivity.js";
import { currentSession, onSessionChange, type Session } from "./auth.js";
import type { RetryHooks } from "./retry.js";
import type { MyKey, Profile } from "./types.js";

/** The signed-in visitor: session, profile and their key for a workshop, as hooks. */

export function useSession(): Session | null {
  const [session, setSession] = useState(() => currentSession());
  useEffect(() => onSessionChange(() => setSession(currentSession())), []);
  return session;
}

// One profile per person and workshop, shared by every page, so moving from the workshop page to the
// key page does not ask the API again. (Consent is per workshop, so the workshop is part of the key;
// the person, not the token, is the other part: a refreshed token is the same visitor.)
let profileCache: { sub: string; workshop: string | null; profile: Profile } | undefined;

export function rememberProfile(session: Session, profile: Profile): void {
  profileCache = { sub: session.sub, workshop: profile.consent?.workshop ?? null, profile };
}

export interface Loaded<T> {
  value: T | undefined;
  error: ApiError | null;
  loading: boolean;
  /** While loading waits for a busy API: what to tell the person (retry.ts). */
  queued: string | null;
  reload: () => Promise<void>;
  set: (value: T) => void;
}

function useLoaded<T>(load: ((hooks: RetryHooks) => Promise<T>) | null, deps: unknown[], initial?: T): Loaded<T> {
  const [value, setValue] = useState<T | undefined>(initial);
  const wait = useBusyWait();
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(load !== null && initial === undefined);
  const reload = useCallback(async () => {
    if (!load) return;
    setLoading(true);
    try {
      setValue(await load(wait.hooks));
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError("Something went wrong. Try again in a moment.", 0, "unknown", {}, { cause: err }));
    } finally {
      wait.done();
      setLoading(false);
    }
  }, deps);
  // What failed because the server could not be reached loads again as soon as it can be.
  const failed = useRef(false);
  failed.current = error !== null;
  useEffect(() => onReachableAgain(() => failed.current && void reload()), [reload]);
  useEffect(() => {
    if (load && initial !== undefined) setValue(initial);
    else if (load) void reload();
    else {
      setValue(undefined);
      setError(null);
      setLoading(false);
    }
  }, [reload]);
  return { value, error, loading, queued: wait.queued, reload, set: setValue };
}

/** The visitor's profile; with `workshop`, also their consent answer for that workshop. */
export function useProfile(session: Session | null, workshop?: string): Loaded<Profile> {
  const cached = session && profileCache?.sub === session.sub && profileCache.workshop === (workshop ?? null) ? profileCache.profile : undefined;
  const loaded = useLoaded<Profile>(
    session
      ? async (hooks) => {
          const profile = await apiPatiently<Profile>(workshop ? `/me?workshop=${encodeURIComponent(workshop)}` : "/me", { auth: true }, hooks);
          rememberProfile(session, profile);
          return profile;
        }
      : null,
    [session?.sub, workshop],
    cached,
  );
  return loaded;
}

// The claim answer carries the key, so the key page shows it at once instead of asking again.
let keyCache: { sub: string; key: MyKey } | undefined;

export function rememberKey(session: Session, key: MyKey): void {
  keyCache = { sub: session.sub, key };
}

/** The visitor's key for a workshop; `null` when they have not claimed one (the API's 204). */
export function useMyKey(session: Session | null, slug: string): Loaded<MyKey | null> {
  const cached = session && keyCache?.sub === session.sub && keyCache.key.slug === slug ? keyCache.key : undefined;
  return useLoaded<MyKey | null>(
    session ? (hooks) => apiPatiently<MyKey | null>(`/workshops/${slug}/key`, { auth: true }, hooks) : null,
    [session?.sub, slug],
    cached,
  );
}
