import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyExpiresAt } from "../../workshops/derive.js";
import { summaryLine } from "../../workshops/check.js";
import { WorkshopSchema, type Workshop, type WorkshopInput } from "../../workshops/schema.js";
import { startTestStack, testWorkshop, type TestStack } from "../../local/test-stack.js";
import { DEFAULT_RETENTION } from "../data/tables.js";

/** Who may claim (`attendees`): email domains and the uploaded invite list, through the HTTP app against dynalite and the emulator. */

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.close();
});

const admin = () => stack.issuer.tokenFor({ sub: "admin-who", email: "admin@example.org", groups: ["admins"] });

function workshop(slug: string, attendees: WorkshopInput["attendees"]): Workshop {
  return testWorkshop(slug, stack.now(), { attendees });
}

async function claimAs(slug: string, email: string) {
  const who = await stack.attendee(email);
  const res = await stack.call("POST", `/api/workshops/${slug}/claim`, who.token);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe("attendees.allow_email_domains", () => {
  it("only verified emails in those domains claim; others are told who may and why, and nothing is reserved", async () => {
    const w = workshop("domains-exact", { allow_email_domains: ["Uni-Example.edu", "corp.example"] });
    expect(w.attendees).toMatchObject({ allow_email_domains: ["uni-example.edu", "corp.example"], allow_subdomains: false });
    await stack.addWorkshop(w);
    expect((await claimAs(w.slug, "ada@uni-example.edu")).status).toBe(201);
    expect((await claimAs(w.slug, "bo@CORP.example")).status).toBe(201);
    const refused = await claimAs(w.slug, "cy@cs.uni-example.edu");
    expect(refused).toMatchObject({ status: 403, body: { error: { code: "not_allowed", rule: "email_domains" } } });
    expect(refused.body.error.message).toContain("people with an email address at @uni-example.edu, @corp.example");
    expect(refused.body.error.message).toContain("You signed in as cy@cs.uni-example.edu");
    expect((await claimAs(w.slug, "dee@gmail.com")).status).toBe(403);
    expect(await stack.store.getLedger(w.slug)).toMatchObject({ claimed: 2 });
  });

  it("subdomains by choice", async () => {
    const w = workshop("domains-sub", { allow_email_domains: ["uni-example.edu"], allow_subdomains: true });
    await stack.addWorkshop(w);
    expect((await claimAs(w.slug, "cy@cs.uni-example.edu")).status).toBe(201);
    // A look-alike is not a subdomain.
    expect((await claimAs(w.slug, "eve@evil-uni-example.edu")).status).toBe(403);
    expect(summaryLine(w)).toContain("who may claim: people with an email address at @uni-example.edu (or a subdomain)");
  });

  it("the schema refuses what is not a domain", () => {
    const base = testWorkshop("domains-bad", Date.now());
    for (const bad of [["@example.com"], ["*.example.com"], []]) {
      expect(WorkshopSchema.safeParse({ ...base, attendees: { allow_email_domains: bad } }).success, JSON.stringify(bad)).toBe(false);
    }
    expect(WorkshopSchema.safeParse({ ...base, attendees: { allow_email_domains: ["example.com"], extra: 1 } }).success).toBe(false);
  });
});

describe("attendees.invite_list", () => {
  it("only listed people claim; the list is uploaded in parts, replaced, kept as long as the claims, and shows who has not claimed", async () => {
    const w = workshop("invited", { invite_list: true });
    await stack.addWorkshop(w);
    expect(summaryLine(w)).toContain("who may claim: people on the invite list the organizers uploaded");
    // No list yet: nobody.
    expect((await claimAs(w.slug, "ann@example.com")).body.error).toMatchObject({ code: "not_allowed", rule: "invite_list" });

    const upload = (emails: string[], replace: boolean) => stack.call("POST", `/api/admin/workshops/${w.slug}/invites`, admin(), { emails, replace });
    expect((await upload(["Ann.Lee+workshop@gmail.com", "bo@example.com"], true)).status).toBe(200);
    expect((await upload(["cy@example.com"], false)).status).toBe(200);
    // Normalized as the one-key-per-person lock is: the same Gmail mailbox.
    expect((await claimAs(w.slug, "annlee@gmail.com")).status).toBe(201);
    const refused = await claimAs(w.slug, "zed@example.com");
    expect(refused).toMatchObject({ status: 403, body: { error: { code: "not_allowed" } } });
    expect(refused.body.error.message).toContain("zed@example.com is not on it");

    const listed = (await (await stack.call("GET", `/api/admin/workshops/${w.slug}/invites`, admin())).json()) as Record<string, unknown>;
    expect(listed).toEqual({ enabled: true, invited: 3, not_claimed: ["bo@example.com", "cy@example.com"] });

    // A new list replaces the old one.
    expect((await upload(["cy@example.com", "dee@example.com"], true)).status).toBe(200);
    expect((await claimAs(w.slug, "bo@example.com")).status).toBe(403);
    const after = (await (await stack.call("GET", `/api/admin/workshops/${w.slug}/invites`, admin())).json()) as Record<string, unknown>;
    expect(after).toEqual({ enabled: true, invited: 2, not_claimed: ["cy@example.com", "dee@example.com"] });

    const raw = await DynamoDBDocumentClient.from(stack.dynamo.client).send(
      new QueryCommand({ TableName: stack.store.tableNames.workshops, KeyConditionExpression: "pk = :pk AND begins_with(sk, :i)", ExpressionAttributeValues: { ":pk": w.slug, ":i": "INVITE#" } }),
    );
    const ttl = Math.floor(Date.parse(keyExpiresAt(w)) / 1000) + DEFAULT_RETENTION.afterKeyExpiryDays * 86_400;
    expect(raw.Items!.map((i) => i.ttl)).toEqual([ttl, ttl]);

    const audit = (await (await stack.call("GET", `/api/admin/workshops/${w.slug}/audit`, admin())).json()) as { entries: { action: string; details: unknown }[] };
    expect(audit.entries.filter((e) => e.action === "invite_list").map((e) => e.details)).toEqual([
      { addresses: 2, replace: true },
      { addresses: 1, replace: false },
      { addresses: 2, replace: true },
    ]);
  });
});
