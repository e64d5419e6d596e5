import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestIssuer, testWorkshop, TEST_CLIENT_ID, type TestIssuer } from "../../local/test-stack.js";
import { bearerToken, CLOCK_SKEW_SECONDS, createTokenVerifier, isAllowedJwksUri, isOrganizer, principalFrom, TokenInvalidError, type VerifyToken } from "./index.js";

// The full token matrix (expired, wrong issuer/client/token_use, alg none, tampered, unsigned) runs
// through the HTTP app in functions/api/app.test.ts; these are the pure parts.

describe("principalFrom", () => {
  it("carries the email only when it is verified", () => {
    expect(principalFrom({ sub: "a", email: "a@x.org", email_verified: true })).toMatchObject({ email: "a@x.org", emailVerified: true });
    expect(principalFrom({ sub: "a", email: "a@x.org", email_verified: "true" })).toMatchObject({ email: "a@x.org", emailVerified: true });
    expect(principalFrom({ sub: "a", email: "a@x.org", email_verified: false }).email).toBeUndefined();
    expect(principalFrom({ sub: "a", email: "a@x.org" }).email).toBeUndefined();
  });

  it("reads cognito:groups; admin only for the exact admin group", () => {
    expect(principalFrom({ sub: "a", "cognito:groups": ["admins"] })).toMatchObject({ groups: ["admins"], isAdmin: true });
    expect(principalFrom({ sub: "a", "cognito:groups": ["Admins", 7] })).toMatchObject({ groups: ["Admins"], isAdmin: false });
    expect(principalFrom({ sub: "a", "cognito:groups": ["ops"] }, "ops").isAdmin).toBe(true);
  });

  it("refuses a token without a subject", () => {
    expect(() => principalFrom({ email: "a@x.org" })).toThrow(TokenInvalidError);
  });
});

describe("organizer rights", () => {
  const w = testWorkshop("orgs", Date.now(), { organizers: ["Lead@Example.com"] });
  it("admins, or a verified listed email in any case", () => {
    expect(isOrganizer(principalFrom({ sub: "a", "cognito:groups": ["admins"] }), w)).toBe(true);
    expect(isOrganizer(principalFrom({ sub: "a", email: "lead@example.COM", email_verified: true }), w)).toBe(true);
    expect(isOrganizer(principalFrom({ sub: "a", email: "lead@example.com", email_verified: false }), w)).toBe(false);
    expect(isOrganizer(principalFrom({ sub: "a", email: "other@example.com", email_verified: true }), w)).toBe(false);
  });
});

describe("JWKS fetching", () => {
  it("allows https anywhere and http only on loopback", () => {
    expect(isAllowedJwksUri("https://cognito-idp.eu-central-1.amazonaws.com/pool/.well-known/jwks.json")).toBe(true);
    expect(isAllowedJwksUri("http://127.0.0.1:4000/oidc/jwks")).toBe(true);
    expect(isAllowedJwksUri("http://localhost:4000/oidc/jwks")).toBe(true);
    expect(isAllowedJwksUri("http://[::1]:4000/oidc/jwks")).toBe(true);
    expect(isAllowedJwksUri("http://example.com/jwks")).toBe(false);
    expect(isAllowedJwksUri("http://127.0.0.1.nip.io/jwks")).toBe(false);
  });

  it("bearerToken reads only the Bearer scheme", () => {
    expect(bearerToken("Bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(bearerToken("bearer abc")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

// Tokens signed by the issuer's own key (a local key pair, its JWKS served on loopback), so only the
// time claims can be what is refused.
describe("the time claims of a correctly signed token", () => {
  let issuer: TestIssuer;
  let verify: VerifyToken;
  const nowS = () => Math.floor(Date.now() / 1000);
  beforeAll(async () => {
    issuer = await startTestIssuer();
    verify = createTokenVerifier({ issuer: issuer.issuer, clientId: TEST_CLIENT_ID });
  });
  afterAll(() => issuer?.close());

  it("accepts one with an expiry, issued now or a little ahead of this clock", async () => {
    await expect(verify(issuer.sign({ sub: "on-time" }))).resolves.toMatchObject({ sub: "on-time" });
    await expect(verify(issuer.sign({ sub: "skewed", iat: nowS() + CLOCK_SKEW_SECONDS - 5 }))).resolves.toMatchObject({ sub: "skewed" });
  });

  it.each([
    ["without exp", () => ({ exp: undefined })],
    ["with exp that is not a number", () => ({ exp: String(nowS() + 3600) })],
    ["issued an hour in the future", () => ({ iat: nowS() + 3600, exp: nowS() + 7200 })],
    ["issued just past the clock skew", () => ({ iat: nowS() + CLOCK_SKEW_SECONDS + 10 })],
    ["without exp and issued in the future", () => ({ exp: undefined, iat: nowS() + 86_400 })],
    ["with iat that is not a number", () => ({ iat: "now" })],
  ])("refuses one %s", async (_what, claims) => {
    await expect(verify(issuer.sign({ sub: "forever", "cognito:groups": ["admins"], ...claims() }))).rejects.toThrow(TokenInvalidError);
  });
});
