import type { CatalogWorkshop, WorkshopState, WorkshopStatus } from "./types.js";

/**
 * Where a workshop stands for a visitor. The live status from the API wins; until it arrives (or
 * when the API is unreachable) the build-time times give a good first guess.
 */
export function workshopState(w: CatalogWorkshop, status: WorkshopStatus | undefined, now: number): WorkshopState {
  if (status) return status.state;
  if (!w.is_active || now >= Date.parse(w.claims_close_at)) return "closed";
  if (now < Date.parse(w.claims_open_at)) return "upcoming";
  return "open";
}

export type Shelf = "open" | "upcoming" | "past";

export function shelfOf(state: WorkshopState): Shelf {
  if (state === "upcoming") return "upcoming";
  if (state === "closed") return "past";
  return "open";
}

export const STATE_LABEL: Record<WorkshopState, string> = {
  upcoming: "Opens soon",
  open: "Open",
  paused: "Paused",
  sold_out: "Sold out",
  closed: "Closed",
};
