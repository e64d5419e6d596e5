import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalStack, type LocalStack } from "./stack.js";
import { callApi, idTokenClaims, signIn, tempDirs, workshopFileAround, writeWorkshopFiles } from "./testing.js";

/**
 * One person, one key, through the real local stack, as an attacker would try it: two sign-ins with
 * two spellings of one mailbox are two accounts at the provider (two `sub`s, both verified), and the
 * second one's claim is refused as the same person's (409 `email_already_claimed`), with no second key.
 */

const SLUG = "one-person";
const tempDir = tempDirs();
let stack: LocalStack;

beforeAll(async () => {
  const dir = tempDir("wkm-one-person-");
  const now = Date.now();
  const workshops = writeWorkshopFiles(join(dir, "workshops"), [workshopFileAround(SLUG, now, { claim_code: false })]);
  stack = await startLocalStack({ port: 0, dataDir: join(dir, "data"), workshopsDir: workshops, demo: false, quiet: true, at: new Date(now).toISOString() });
});

afterAll(async () => {
  await stack?.close();
});

/** Signs `email` in, goes through the confirm step and claims: the answer to the claim, and the account's `sub`. */
async function claimAs(email: string) {
  const token = await signIn(stack.url, email);
  expect((await callApi(stack.url, token, "PUT", "/api/me", { display_name: "Same Person", marketing_opted_in: false })).status).toBe(200);
  return { sub: idTokenClaims(token).sub, claim: await callApi(stack.url, token, "POST", `/api/workshops/${SLUG}/claim`) };
}

describe("two spellings of one mailbox get one key", () => {
  it.each([
    ["me+1@outlook.at", "me+2@outlook.at"],
    ['"foo.bar"@gmail.com', "foobar@gmail.com"],
    ["fullwidth@ｇｍａｉｌ.com", "fullwidth@gmail.com"],
  ])("%s, then %s", async (first, second) => {
    const a = await claimAs(first);
    expect(a.claim.status).toBe(201);
    const keysBefore = stack.emulator!.state.keys.length;

    const b = await claimAs(second);
    expect(b.sub).not.toBe(a.sub);
    expect(b.claim.status).toBe(409);
    expect(b.claim.body.error.code).toBe("email_already_claimed");
    expect(JSON.stringify(b.claim.body)).not.toContain(a.claim.body.key.key);
    expect(stack.emulator!.state.keys.length).toBe(keysBefore);
  });
});
