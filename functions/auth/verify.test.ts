import { describe, expect, it } from "vitest";
import { testWorkshop } from "../../local/test-stack.js";
import { bearerToken, isAllowedJwksUri, isOrganizer, principalFrom, TokenInvalidError } from "./index.js";

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
