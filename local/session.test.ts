import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalStack, type LocalStack } from "./stack.js";
import { idTokenClaims, refreshTokens, revokeToken, signInWithTokens } from "./testing.js";

/**
 * Sessions that last the workshop: the local OpenID provider hands the page a refresh token in the
 * code flow (as Cognito does), and the refresh grant over HTTP gives a new ID token the API accepts,
 * also after the first one expired. Each refresh token works once; signing out revokes it.
 */

const ID_TOKEN_TTL_S = 3;
let stack: LocalStack;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "wkm-session-"));
  stack = await startLocalStack({ port: 0, dataDir: dir, quiet: true, idTokenTtlSeconds: ID_TOKEN_TTL_S });
});
afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

const me = async (idToken: string) => (await fetch(`${stack.url}/api/me`, { headers: { authorization: `Bearer ${idToken}` } })).status;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("refresh over the local OpenID provider", () => {
  it("gives a refresh token in the code flow; the refresh grant replaces an expired ID token with one the API accepts", async () => {
    const first = await signInWithTokens(stack.url, "longday@example.com", { name: "Long Day" });
    expect(first.refreshToken).not.toBe("");
    expect(Number(first.claims.exp) - Number(first.claims.iat)).toBe(ID_TOKEN_TTL_S);
    expect(await me(first.idToken)).toBe(200);

    await sleep((ID_TOKEN_TTL_S + 1) * 1000);
    expect(await me(first.idToken)).toBe(401);

    const refreshed = await refreshTokens(stack.url, first.refreshToken);
    expect(refreshed.status).toBe(200);
    const claims = idTokenClaims(refreshed.body.id_token!);
    // The same person, with the same claims the verifier needs, in a token issued now.
    expect(claims).toMatchObject({ sub: first.claims.sub, email: "longday@example.com", email_verified: true, name: "Long Day", token_use: "id", aud: stack.oidc.clientId });
    expect(Number(claims.iat)).toBeGreaterThan(Number(first.claims.iat));
    expect(await me(refreshed.body.id_token!)).toBe(200);

    // Rotated: a new refresh token came with it, and the used one is refused.
    expect(refreshed.body.refresh_token).toBeTruthy();
    expect(refreshed.body.refresh_token).not.toBe(first.refreshToken);
    const again = await refreshTokens(stack.url, refreshed.body.refresh_token!);
    expect(again.status).toBe(200);
    expect(await me(again.body.id_token!)).toBe(200);
  });

  it("refuses a refresh token used twice, and then the whole session: a stolen token is worth nothing once replayed", async () => {
    const first = await signInWithTokens(stack.url, "replayed@example.com");
    const owner = await refreshTokens(stack.url, first.refreshToken);
    expect(owner.status).toBe(200);
    const replay = await refreshTokens(stack.url, first.refreshToken);
    expect(replay).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    // The replay revoked the token family: the owner's newer token is refused too (they sign in again).
    expect((await refreshTokens(stack.url, owner.body.refresh_token!)).body.error).toBe("invalid_grant");
  });

  it("ends the session when the page revokes its refresh token (signing out)", async () => {
    const first = await signInWithTokens(stack.url, "leaving@example.com");
    expect(await revokeToken(stack.url, first.refreshToken)).toBe(200);
    expect(await refreshTokens(stack.url, first.refreshToken)).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });
});
