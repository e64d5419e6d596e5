import { encode } from "uqr";
import type { SiteProps } from "./main.js";
import { workshopState } from "./phase.js";
import type { Route } from "./router.js";
import { findWorkshop } from "./site-data.js";
import { useStatuses } from "./status.js";
import { formatDuration, formatWhen, useNow } from "./time.js";
import { PageTitle } from "./ui.js";

/**
 * /w/<slug>/projector: put on the room's screen. A QR code of the workshop page big enough to
 * scan from the back row, and the keys left, live. Loaded only on this route (it carries the QR
 * encoder).
 */

/** The QR code as one SVG path of dark modules: crisp at any size, no inline styles. */
function QrCode({ text, label }: { text: string; label: string }) {
  const qr = encode(text, { ecc: "M", border: 2 });
  let d = "";
  qr.data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) d += `M${x} ${y}h1v1h-1z`;
    }),
  );
  return (
    <svg class="qr" viewBox={`0 0 ${qr.size} ${qr.size}`} role="img" aria-label={label} shape-rendering="crispEdges">
      <rect width={qr.size} height={qr.size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

export function ProjectorPage({ catalog, route }: SiteProps & { route: Route }) {
  const slug = route.page === "projector" ? route.slug : "";
  const w = findWorkshop(catalog, slug);
  const { bySlug } = useStatuses();
  const now = useNow(1000);
  if (!w) {
    return (
      <div class="projector">
        <PageTitle title="Workshop not found" />
      </div>
    );
  }
  const status = bySlug.get(slug);
  const state = workshopState(w, status, now);
  const url = `${location.origin}/w/${slug}`;
  const headline =
    state === "upcoming"
      ? `Keys available in ${formatDuration(Date.parse(w.claims_open_at) - now)}`
      : state === "paused"
        ? "Claims are paused for a moment"
        : state === "sold_out"
          ? "All keys have been claimed"
          : state === "closed"
            ? "Claims are closed"
            : "Scan to get your API key";
  return (
    <div class="projector">
      <div class="projector-qr">
        <QrCode text={url} label={`QR code for ${url}`} />
      </div>
      <div class="projector-info">
        <p class="projector-event">{w.event}</p>
        <PageTitle title={w.name} />
        <p class="projector-headline">{headline}</p>
        <p class="projector-url">{url.replace(/^https?:\/\//, "")}</p>
        <div class="projector-counts" aria-live="polite" data-live={status ? "yes" : "no"}>
          <p>
            <span class="projector-number" data-testid="keys-left">
              {status ? status.keys_left : "–"}
            </span>
            <span class="projector-unit">keys left</span>
          </p>
          <p>
            <span class="projector-number projector-number-small" data-testid="keys-claimed">
              {status ? status.claimed : "–"}
            </span>
            <span class="projector-unit">claimed of {status ? status.capacity : w.capacity}</span>
          </p>
        </div>
        {state === "upcoming" && <p class="projector-when">Opens {formatWhen(w.claims_open_at)}</p>}
      </div>
    </div>
  );
}
