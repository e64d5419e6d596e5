import { useEffect, useState } from "preact/hooks";

/**
 * Times shown in the visitor's own time zone, and a clock that follows the server's: the local
 * stack can run a rehearsal at another moment, and a phone's clock can be minutes off.
 */

// The server's clock as an anchor (its time at a local instant) and how fast it runs: a rehearsal
// with `--speed 60` runs an hour a minute, and the page's countdowns must run with it.
let anchor = { serverMs: Date.now(), localMs: Date.now(), speed: 1 };

export function serverNow(): number {
  return Math.floor(anchor.serverMs + (Date.now() - anchor.localMs) * anchor.speed);
}

/**
 * Adopts the server's idea of now (an ISO string or epoch milliseconds). `ageMs`: how long a cache
 * had kept the answer, so a status served 4 s after it was made does not set the clock 4 s back.
 * `speed`: how fast the server's clock runs (a rehearsal's `--speed`), when it says.
 */
export function syncServerClock(now: string | number | undefined, opts: { ageMs?: number; speed?: number } = {}): void {
  const ms = typeof now === "number" ? now : typeof now === "string" ? Date.parse(now) : Number.NaN;
  if (!Number.isFinite(ms)) return;
  const speed = opts.speed !== undefined && Number.isFinite(opts.speed) && opts.speed > 0 ? opts.speed : anchor.speed;
  anchor = { serverMs: ms + (opts.ageMs ?? 0) * speed, localMs: Date.now(), speed };
}

/** Real milliseconds until the server's clock reads `serverMs` (a rehearsal clock may run faster). */
export function realMsUntil(serverMs: number): number {
  return Math.max(0, (serverMs - serverNow()) / anchor.speed);
}

const dayAndTime = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
});
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const zoneName = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" });
const dayKey = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" });

export function timeZoneLabel(at: number = Date.now()): string {
  return zoneName.formatToParts(at).find((p) => p.type === "timeZoneName")?.value ?? "";
}

/** "Tue 14 Apr, 11:45 CEST" */
export function formatWhen(iso: string): string {
  const at = Date.parse(iso);
  return `${dayAndTime.format(at)} ${timeZoneLabel(at)}`;
}

/** "Tue 14 Apr, 11:45 – 14:45 CEST", or both days when the range spans midnight. */
export function formatRange(startIso: string, endIso: string): string {
  const start = Date.parse(startIso);
  const end = Date.parse(endIso);
  const sameDay = dayKey.format(start) === dayKey.format(end);
  return `${dayAndTime.format(start)} – ${sameDay ? timeOnly.format(end) : dayAndTime.format(end)} ${timeZoneLabel(end)}`;
}

/** A coarse, readable duration: "2 d 3 h", "3 h 20 min", "4 min 05 s", "12 s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${String(sec).padStart(2, "0")} s`;
  return `${sec} s`;
}

/** "just now", "3 min ago", "2 h ago": how old a figure is, without ticking seconds. */
export function formatAgo(ms: number): string {
  const min = Math.floor(ms / 60_000);
  if (min < 1) return "just now";
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/**
 * Every amount of money on every page: dollars and cents, "< $0.01" for a spend below one
 * cent (a test call), so "$0.00" always means nothing was spent.
 */
export function formatUsd(amount: number): string {
  if (amount > 0 && amount < 0.01) return "< $0.01";
  return `$${amount.toFixed(2)}`;
}

/** Re-renders the caller every `everyMs` and returns the server-aligned time. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(serverNow);
  useEffect(() => {
    const id = setInterval(() => setNow(serverNow()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}
