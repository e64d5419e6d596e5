import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkProjectorLink, ProjectorLinkExpiredError, ProjectorLinkInvalidError, signProjectorLink } from "./projector-link.js";

const secret = randomBytes(32);
const NOW = Date.parse("2027-01-10T10:00:00Z");
const HOUR = 3_600_000;

describe("projector links", () => {
  it("accept a link for the workshop it was made for until it expires", () => {
    const token = signProjectorLink(secret, "room-day", NOW + HOUR);
    expect(token).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    expect(() => checkProjectorLink(secret, "room-day", token, NOW)).not.toThrow();
    expect(() => checkProjectorLink(secret, "room-day", token, NOW + HOUR - 1000)).not.toThrow();
  });

  it("refuse an expired link, and say when it expired", () => {
    const token = signProjectorLink(secret, "room-day", NOW + HOUR);
    const err = (() => {
      try {
        checkProjectorLink(secret, "room-day", token, NOW + HOUR);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ProjectorLinkExpiredError);
    expect(err).toMatchObject({ code: "projector_link_expired", details: { expired_at: new Date(NOW + HOUR).toISOString() } });
  });

  it("refuse a link for another workshop, a later expiry written in, a changed MAC, another deployment's, and garbage", () => {
    const token = signProjectorLink(secret, "room-day", NOW + HOUR);
    const [exp, mac] = token.split(".") as [string, string];
    const flipped = (mac.startsWith("A") ? "B" : "A") + mac.slice(1);
    // The last character: a change there may fall in base64url's unused bits, and is refused too.
    const lastFlipped = mac.slice(0, -1) + (mac.endsWith("A") ? "B" : "A");
    const refused = [
      () => checkProjectorLink(secret, "other-room", token, NOW),
      () => checkProjectorLink(secret, "room-day", `${Number(exp) + 86_400}.${mac}`, NOW),
      () => checkProjectorLink(secret, "room-day", `${exp}.${flipped}`, NOW),
      () => checkProjectorLink(secret, "room-day", `${exp}.${lastFlipped}`, NOW),
      () => checkProjectorLink(randomBytes(32), "room-day", token, NOW),
      () => checkProjectorLink(secret, "room-day", "", NOW),
      () => checkProjectorLink(secret, "room-day", `${exp}.${mac}x`, NOW),
    ];
    for (const check of refused) expect(check).toThrow(ProjectorLinkInvalidError);
  });

  it("an expired link with a forged MAC is refused as invalid, not told when it expired", () => {
    const token = signProjectorLink(randomBytes(32), "room-day", NOW - HOUR);
    expect(() => checkProjectorLink(secret, "room-day", token, NOW)).toThrow(ProjectorLinkInvalidError);
  });
});
