import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeEmail } from "./email.js";

const localChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789._-+ABCXYZ".split(""));
const localPart = fc.string({ unit: localChar, minLength: 1, maxLength: 24 });
const plainName = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789".split("")), minLength: 1, maxLength: 16 });
const anyDomain = fc.oneof(
  fc.constantFrom("gmail.com", "googlemail.com", "GMail.com", "outlook.com", "hotmail.com", "icloud.com", "yahoo.com", "fastmail.com", "proton.me", "example.com", "uni-heidelberg.de"),
  fc.domain(),
);

describe("normalizeEmail", () => {
  it("is idempotent", () => {
    fc.assert(fc.property(localPart, anyDomain, (local, domain) => {
      const once = normalizeEmail(`${local}@${domain}`);
      expect(normalizeEmail(once)).toBe(once);
    }));
  });

  it("collapses gmail variants (dots, +tags, case, googlemail) to one address", () => {
    fc.assert(
      fc.property(
        plainName,
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.option(plainName, { nil: undefined }),
        fc.constantFrom("gmail.com", "googlemail.com", "Gmail.COM", "GoogleMail.com"),
        fc.boolean(),
        (name, dotPositions, tag, domain, upper) => {
          let dotted = name;
          for (const p of dotPositions) {
            const i = 1 + (p % Math.max(1, dotted.length - 1));
            dotted = `${dotted.slice(0, i)}.${dotted.slice(i)}`;
          }
          const local = `${upper ? dotted.toUpperCase() : dotted}${tag ? `+${tag}` : ""}`;
          expect(normalizeEmail(`${local}@${domain}`)).toBe(`${name}@gmail.com`);
        },
      ),
    );
  });

  it("maps a domain with trailing dots to the same address as without", () => {
    fc.assert(
      fc.property(localPart, anyDomain, fc.integer({ min: 1, max: 3 }), (local, domain, dots) => {
        expect(normalizeEmail(`${local}@${domain}${".".repeat(dots)}`)).toBe(normalizeEmail(`${local}@${domain}`));
      }),
    );
  });

  it("keeps dots and plus signs on other domains (only lowercases them)", () => {
    fc.assert(
      fc.property(localPart, fc.domain(), (local, domain) => {
        fc.pre(!/^(gmail|googlemail)\.com$|^(outlook|hotmail|live|msn|icloud|me|mac|fastmail|proton|protonmail|pm|yandex|ya|zoho|zohomail|hey|yahoo|ymail|rocketmail)\./.test(domain));
        expect(normalizeEmail(`${local}@${domain}`)).toBe(`${local}@${domain}`.toLowerCase());
      }),
    );
  });

  it.each([
    ["Jane.Doe+workshop@gmail.com", "janedoe@gmail.com"],
    ["j.a.n.e.d.o.e@googlemail.com", "janedoe@gmail.com"],
    ["jane.doe+x@outlook.com", "jane.doe@outlook.com"],
    ["jane+x@hotmail.co.uk", "jane@hotmail.co.uk"],
    ["jane+x@icloud.com", "jane@icloud.com"],
    ["jane+x@me.com", "jane@me.com"],
    ["jane+x@fastmail.com", "jane@fastmail.com"],
    ["jane+x@proton.me", "jane@proton.me"],
    ["jane+x@pm.me", "jane@pm.me"],
    ["jane-shopping@yahoo.com", "jane@yahoo.com"],
    ["jane-shopping@yahoo.co.uk", "jane@yahoo.co.uk"],
    ["jane+x@yahoo.com", "jane+x@yahoo.com"],
    ["jane.doe+x@example.com", "jane.doe+x@example.com"],
    ["first.last@uni-heidelberg.de", "first.last@uni-heidelberg.de"],
    ["  Mixed.Case@Example.ORG ", "mixed.case@example.org"],
    ["+only@gmail.com", "+only@gmail.com"],
    // A trailing dot (the fully qualified domain) delivers to the same inbox.
    ["kate@gmail.com.", "kate@gmail.com"],
    ["K.ate+2@GMail.com..", "kate@gmail.com"],
    ["kate+1@outlook.com.", "kate@outlook.com"],
    ["kate@example.com.", "kate@example.com"],
  ])("%s → %s", (input, expected) => {
    expect(normalizeEmail(input)).toBe(expected);
  });
});
