/**
 * A display name is shown to organizers (dashboard, CSV export) exactly as an attendee typed it, so
 * it is cleaned when it is saved: control characters (a tab or newline breaks table rows and CSV
 * cells), the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069), which make
 * text display in another order than it is stored — `\u202Egnp.exe` shows as `exe.png` — and the
 * characters that are there but show as nothing: zero-width spaces and joiners, the word joiner and
 * invisible operators, the byte-order mark, soft hyphens, direction marks. Two names that look the
 * same on the dashboard are then the same text.
 */

// C0 and C1 controls, DEL; soft hyphen; Arabic letter mark; Mongolian vowel separator; zero-width
// space, non-joiner and joiner, LRM and RLM; bidi embeddings, overrides and isolates; word joiner and
// the invisible operators; the deprecated format characters; BOM (zero-width no-break space);
// interlinear annotation marks.
const UNSAFE = /[\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]/g;
// Line breaks and whitespace controls (U+2028 line and U+2029 paragraph separators too) separate
// words: they become a space instead of joining two words.
const SPACING_CONTROLS = /[\t\n\v\f\r\u2028\u2029]+/g;

export function cleanDisplayName(raw: string): string {
  return raw.replace(SPACING_CONTROLS, " ").replace(UNSAFE, "").replace(/ {2,}/g, " ").trim();
}
