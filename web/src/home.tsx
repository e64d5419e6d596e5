import { shelfOf, STATE_LABEL, workshopState, type Shelf } from "./phase.js";
import { useStatuses } from "./status.js";
import { formatDuration, formatRange, useNow } from "./time.js";
import type { CatalogWorkshop, SiteProps, WorkshopStatus } from "./types.js";
import { PageTitle } from "./ui.js";

function WorkshopCard({ w, status, now }: { w: CatalogWorkshop; status: WorkshopStatus | undefined; now: number }) {
  const state = workshopState(w, status, now);
  let detail: string;
  if (state === "upcoming") detail = `Claims open in ${formatDuration(Date.parse(w.claims_open_at) - now)}`;
  else if (state === "open" && status) detail = `${status.keys_left} of ${status.capacity} ${status.capacity === 1 ? "key" : "keys"} left`;
  else if (state === "open") detail = "Claims are open";
  else if (state === "sold_out") detail = "All keys claimed";
  else if (state === "paused") detail = "Claims paused for now";
  else detail = "Claims closed";
  return (
    <li>
      <a class="card card-link" href={`/w/${w.slug}`}>
        <span class="card-top">
          <span class="eyebrow">{w.event}</span>
          <span class={`badge badge-${state}`}>{STATE_LABEL[state]}</span>
        </span>
        <span class="card-title">{w.name}</span>
        <span class="card-meta">
          {formatRange(w.starts_at, w.ends_at)} · {w.location}
        </span>
        <span class="card-detail">{detail}</span>
      </a>
    </li>
  );
}

const SHELVES: { shelf: Shelf; title: string; empty: string }[] = [
  { shelf: "open", title: "Open now", empty: "No workshop is handing out keys right now." },
  { shelf: "upcoming", title: "Coming up", empty: "Nothing scheduled yet." },
  { shelf: "past", title: "Past", empty: "" },
];

export function HomePage({ catalog }: SiteProps) {
  const { bySlug } = useStatuses();
  const now = useNow(1000);
  const byShelf = new Map<Shelf, CatalogWorkshop[]>();
  for (const w of catalog.workshops) {
    const shelf = shelfOf(workshopState(w, bySlug.get(w.slug), now));
    byShelf.set(shelf, [...(byShelf.get(shelf) ?? []), w]);
  }
  // Most recent first among the past ones; soonest first otherwise (the catalog's own order).
  byShelf.get("past")?.reverse();
  return (
    <>
      <PageTitle title="Workshops">Get your workshop API key</PageTitle>
      <p class="lede">Pick your workshop, sign in, and you will have a personal key with its own budget in under a minute.</p>
      {SHELVES.map(({ shelf, title, empty }) => {
        const list = byShelf.get(shelf) ?? [];
        if (list.length === 0 && !empty) return null;
        return (
          <section key={shelf} aria-labelledby={`shelf-${shelf}`}>
            <h2 id={`shelf-${shelf}`}>{title}</h2>
            {list.length === 0 ? (
              <p class="muted">{empty}</p>
            ) : (
              <ul class="cards">
                {list.map((w) => (
                  <WorkshopCard key={w.slug} w={w} status={bySlug.get(w.slug)} now={now} />
                ))}
              </ul>
            )}
          </section>
        );
      })}
    </>
  );
}
