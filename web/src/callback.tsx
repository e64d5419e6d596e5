import { useEffect, useState } from "preact/hooks";
import { completeSignIn, SignInError } from "./auth.js";
import { navigate } from "./router.js";
import { Notice, PageTitle, Spinner } from "./ui.js";

/** /callback: the sign-in service sends the visitor back here with a code to exchange. */
export function CallbackPage() {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    completeSignIn(new URL(location.href))
      .then((returnTo) => navigate(returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/", { replace: true }))
      .catch((err: unknown) => setError(err instanceof SignInError ? err.message : "Sign-in did not complete. Please try again."));
  }, []);
  if (!error) return <Spinner label="Signing you in…" />;
  return (
    <>
      <PageTitle title="Sign-in did not complete" />
      <Notice tone="error">{error}</Notice>
      <p>
        <a href="/">Back to the workshops</a>
      </p>
    </>
  );
}
