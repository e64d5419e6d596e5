/**
 * A display name is shown to organizers (dashboard, CSV export) exactly as an attendee typed it, so
 * it is cleaned when it is saved: control characters (a tab or newline breaks table rows and CSV
 * cells) and the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069), which make
 * text display in another order than it is stored — `\u202Egnp.exe` shows as `exe.png`.
 */

// C0 and C1 controls, DEL, and the bidi embedding/override/isolate characters.
const UNSAFE = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;
// Whitespace controls separate words: they become a space instead of joining two words.
const SPACING_CONTROLS = /[\t\n\v\f\r]+/g;

export function cleanDisplayName(raw: string): string {
  return raw.replace(SPACING_CONTROLS, " ").replace(UNSAFE, "").replace(/ {2,}/g, " ").trim();
}
