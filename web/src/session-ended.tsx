import { useEffect, useState } from "preact/hooks";
import { onSessionChange, sessionEnded, signIn } from "./auth.js";
import { Notice } from "./ui.js";

/** Whether the session ended by itself; pages then leave signing in to the notice below. */
export function useSessionEnded(): boolean {
  const [ended, setEnded] = useState(sessionEnded);
  useEffect(() => onSessionChange(() => setEnded(sessionEnded())), []);
  return ended;
}

/**
 * Shown on every page once a session ended by itself (the issuer refused to refresh it: the day is
 * over, or it was revoked), so the visitor knows why the page asks them to sign in again. Its
 * button is the page's one action (the pages hide their own sign-in buttons meanwhile) and brings
 * the visitor back to this very page.
 */
export function SessionEndedNotice() {
  const ended = useSessionEnded();
  if (!ended) return null;
  return (
    <div class="session-ended">
      <Notice tone="warn" title="Your session ended — sign in again">
        <p>You were signed out. Sign in again to carry on where you were; your key and your details are kept.</p>
        <button type="button" class="btn btn-primary" onClick={() => void signIn(location.pathname + location.search)}>
          Sign in again
        </button>
      </Notice>
    </div>
  );
}
