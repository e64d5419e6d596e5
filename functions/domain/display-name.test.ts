import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cleanDisplayName } from "./display-name.js";

// Everything a saved name must not carry: controls, bidi overrides and isolates, and every character
// that is there but shows as nothing (or as a line break).
const INVISIBLE = [
  "\u00AD", "\u061C", "\u180E", "\u200B", "\u200C", "\u200D", "\u200E", "\u200F",
  "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\uFEFF", "\uFFF9", "\uFFFA", "\uFFFB",
];
const BIDI = ["\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069"];
const LINE_BREAKS = ["\n", "\r", "\t", "\u2028", "\u2029"];
const FORBIDDEN = /[\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]/;

describe("cleanDisplayName", () => {
  it.each([
    ["zero-width space", "Ma\u200Bllory", "Mallory"],
    ["zero-width non-joiner and joiner", "Ma\u200Cll\u200Dory", "Mallory"],
    ["word joiner", "Mal\u2060lory", "Mallory"],
    ["byte-order mark", "\uFEFFMallory", "Mallory"],
    ["soft hyphen", "Mal\u00ADlory", "Mallory"],
    ["line separator", "Mallory\u2028Admin", "Mallory Admin"],
    ["paragraph separator", "Mallory\u2029\u2029Admin", "Mallory Admin"],
    ["right-to-left override", "\u202Egnp.exe", "gnp.exe"],
    ["a newline between words", "Ada\nLovelace", "Ada Lovelace"],
  ])("removes a %s", (_what, raw, clean) => {
    expect(cleanDisplayName(raw)).toBe(clean);
  });

  it("keeps letters of every script, accents and emoji", () => {
    for (const name of ["Zoë Ørsted", "محمد", "李小龍", "Ana 🚀", "Łukasz Żółć"]) expect(cleanDisplayName(name)).toBe(name);
  });

  it("leaves no invisible, bidi or line-breaking character in any name", () => {
    const unit = fc.oneof(fc.constantFrom(...INVISIBLE, ...BIDI, ...LINE_BREAKS), fc.constantFrom(..."Ada Lovelace".split("")), fc.string({ unit: "grapheme", maxLength: 1 }));
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 30 }), (parts) => {
        const clean = cleanDisplayName(parts.join(""));
        expect(clean).not.toMatch(FORBIDDEN);
        expect(cleanDisplayName(clean)).toBe(clean);
      }),
      { numRuns: 500 },
    );
  });
});
