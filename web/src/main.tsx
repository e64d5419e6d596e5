import { render, type ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useSession } from "./account.js";
import { keepSessionFresh, signOut } from "./auth.js";
import { CallbackPage } from "./callback.js";
import { tryNow, useReachability } from "./connectivity.js";
import { HomePage } from "./home.js";
import { KeyPage } from "./key.js";
import { interceptLinks, matchRoute, navigate, usePath, type Route } from "./router.js";
import { SessionEndedNotice } from "./session-ended.js";
import { loadCatalog, loadConfig } from "./site-data.js";
import { syncServerClock } from "./time.js";
import type { SiteConfig, SiteProps } from "./types.js";
import { Notice, PageTitle, Spinner } from "./ui.js";
import { WorkshopPage } from "./workshop.js";

type LazyPage = ComponentType<SiteProps & { route: Route }>;

// The organizer and projector pages carry the chart and QR libraries; attendees never load them.
const lazyPages = {
  organizer: () => import("./organizer.js").then((m) => m.OrganizerPage as LazyPage),
  projector: () => import("./projector.js").then((m) => m.ProjectorPage as LazyPage),
};

function Lazy({ which, ...props }: SiteProps & { route: Route; which: keyof typeof lazyPages }) {
  const [Page, setPage] = useState<LazyPage | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    lazyPages[which]()
      .then((p) => setPage(() => p))
      .catch(() => setFailed(true));
  }, [which]);
  if (failed) return <Notice tone="error" title="This page could not load.">Check your connection and reload.</Notice>;
  if (!Page) return <Spinner label="Loading…" />;
  return <Page {...props} />;
}

function Header({ config }: { config: SiteConfig }) {
  const session = useSession();
  return (
    <header class="site-header">
      <a class="brand" href="/">
        <span class="brand-mark" aria-hidden="true" />
        Workshop keys
      </a>
      {session && (
        <div class="who">
          <span class="who-email" title={session.email}>
            {session.email}
          </span>
          <button
            type="button"
            class="btn-link"
            onClick={async () => {
              await signOut();
              if (!config.auth.logoutUri) navigate("/");
            }}
          >
            Sign out
          </button>
        </div>
      )}
    </header>
  );
}

/** On every page while the API cannot be reached; it goes away by itself when the server answers. */
function UnreachableBanner() {
  const { down, nextTryAt } = useReachability();
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!down) return;
    const id = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(id);
  }, [down]);
  if (!down) return null;
  const inS = nextTryAt === null ? 0 : Math.max(0, Math.ceil((nextTryAt - Date.now()) / 1000));
  return (
    <div class="unreachable" role="status" data-testid="unreachable">
      <p>
        <strong>The server cannot be reached.</strong> Trying again {inS > 0 ? `in ${inS} s` : "now"}; this page catches up by itself.
      </p>
      <button type="button" class="btn btn-small" onClick={() => void tryNow()}>
        Try now
      </button>
    </div>
  );
}

function NotFound() {
  return (
    <>
      <PageTitle title="Page not found" />
      <p>
        There is nothing at this address. <a href="/">See all workshops</a>.
      </p>
    </>
  );
}

function App(props: SiteProps) {
  const path = usePath();
  const route = matchRoute(path);
  let page;
  switch (route.page) {
    case "home":
      page = <HomePage {...props} />;
      break;
    case "callback":
      page = <CallbackPage />;
      break;
    case "workshop":
      page = <WorkshopPage {...props} slug={route.slug} />;
      break;
    case "key":
      page = <KeyPage {...props} slug={route.slug} />;
      break;
    case "organizer":
    case "projector":
      page = <Lazy {...props} route={route} which={route.page} />;
      break;
    default:
      page = <NotFound />;
  }
  // The projector is a full-screen display: no header, no footer, nothing to click.
  if (route.page === "projector") {
    return (
      <main class="projector-main">
        <UnreachableBanner />
        <SessionEndedNotice />
        {page}
      </main>
    );
  }
  // The organizer dashboard's tables need the width; header and footer line up with it.
  const wide = route.page === "organizer";
  return (
    <div class={wide ? "layout wide" : "layout"}>
      <Header config={props.config} />
      <UnreachableBanner />
      <SessionEndedNotice />
      <main id="main">{page}</main>
      <footer class="site-footer">
        {props.config.mode !== "cloud" && (
          <p class="mode-badge">
            {props.config.mode === "local-emulator"
              ? "Local rehearsal: keys come from the OpenRouter emulator and only work against it."
              : "Local stack minting real OpenRouter keys."}
          </p>
        )}
        <p>
          <a href="/">All workshops</a>
          <span aria-hidden="true"> · </span>
          <a href="/organizer">Organizers</a>
        </p>
      </footer>
    </div>
  );
}

async function boot(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  interceptLinks(root);
  keepSessionFresh();
  try {
    const [config, catalog] = await Promise.all([loadConfig(), loadCatalog()]);
    if (config.clock) syncServerClock(config.clock.now, { speed: config.clock.speed });
    root.textContent = "";
    render(<App config={config} catalog={catalog} />, root);
  } catch (err) {
    root.textContent = "";
    render(
      <main id="main">
        <Notice tone="error" title="The site could not start.">
          {err instanceof Error ? err.message : "Reload the page in a moment."}
        </Notice>
      </main>,
      root,
    );
  }
}

void boot();
