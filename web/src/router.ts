import { useEffect, useState } from "preact/hooks";

/**
 * Path-based routing for a single-page app: the server answers every path with index.html, and
 * same-origin links are followed with history.pushState so a tap does not reload the bundle.
 */

const listeners = new Set<() => void>();

// Set by an in-app navigation, taken by the next page heading that renders: it takes the focus, so
// a screen reader announces the new page and the keyboard starts from its top.
let headingFocusPending = false;

export function takeHeadingFocus(): boolean {
  const pending = headingFocusPending;
  headingFocusPending = false;
  return pending;
}

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  headingFocusPending = true;
  if (opts.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return path;
}

/** Follows plain clicks on same-origin links inside the app without a page load. */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = (event.target as Element | null)?.closest?.("a");
    if (!a || a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
    if (a.dataset.reload !== undefined) return;
    event.preventDefault();
    if (a.pathname + a.search !== location.pathname + location.search) navigate(a.pathname + a.search);
  });
}

export type Route =
  | { page: "home" }
  | { page: "callback" }
  | { page: "workshop"; slug: string }
  | { page: "key"; slug: string }
  | { page: "projector"; slug: string }
  | { page: "organizer"; slug: string | null }
  | { page: "not-found" };

const SLUG = "([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)";

export function matchRoute(path: string): Route {
  const p = path.length > 1 ? path.replace(/\/+$/, "") : path;
  let m: RegExpMatchArray | null;
  if (p === "/") return { page: "home" };
  if (p === "/callback") return { page: "callback" };
  if (p === "/organizer") return { page: "organizer", slug: null };
  if ((m = p.match(new RegExp(`^/organizer/${SLUG}$`)))) return { page: "organizer", slug: m[1] };
  if ((m = p.match(new RegExp(`^/w/${SLUG}$`)))) return { page: "workshop", slug: m[1] };
  if ((m = p.match(new RegExp(`^/w/${SLUG}/key$`)))) return { page: "key", slug: m[1] };
  if ((m = p.match(new RegExp(`^/w/${SLUG}/projector$`)))) return { page: "projector", slug: m[1] };
  return { page: "not-found" };
}
