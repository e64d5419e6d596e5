import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { testWorkshop } from "../local/test-stack.js";
import type { Workshop } from "../workshops/schema.js";
import {
  AUTH_DOMAIN_PREFIX_PATTERN,
  authDomainPrefixProblems,
  defaultAuthDomainPrefix,
  readStackSettings,
  StackSettingsError,
  type SettingsContext,
} from "./settings.js";
import { ACCOUNT, installMocks } from "./pulumi-mocks.js";
import { CLAIM_FLOW_REQUESTS, CLAIM_LAMBDA_SECONDS, CONCURRENCY_FOR_THE_API, DEFAULT_API_THROTTLE, SIZED_ROOM } from "./api-throttle.js";

const NOW = Date.parse("2027-03-01T09:00:00Z");
const NO_WORKSHOPS: SettingsContext = { accountId: ACCOUNT, workshops: [], now: NOW };

function settingsWith(config: Record<string, string>, context: SettingsContext = NO_WORKSHOPS) {
  installMocks(config);
  return readStackSettings(context);
}

function problemsWith(config: Record<string, string>, context: SettingsContext = NO_WORKSHOPS): string[] {
  try {
    settingsWith(config, context);
  } catch (e) {
    expect(e).toBeInstanceOf(StackSettingsError);
    return (e as StackSettingsError).problems;
  }
  return [];
}

const savedBaseUrl = process.env.OPENROUTER_BASE_URL;
afterEach(() => {
  if (savedBaseUrl === undefined) delete process.env.OPENROUTER_BASE_URL;
  else process.env.OPENROUTER_BASE_URL = savedBaseUrl;
});

describe("readStackSettings", () => {
  it("has working defaults for a first stack", () => {
    delete process.env.OPENROUTER_BASE_URL;
    const s = settingsWith({});
    expect(s).toMatchObject({
      region: "eu-central-1",
      adminEmails: [],
      authDomainPrefix: defaultAuthDomainPrefix(pulumi.getStack(), ACCOUNT),
      sessionHours: 24,
      openrouterBaseUrl: "https://openrouter.ai/api/v1",
      logRetentionDays: 30,
      apiThrottle: { ratePerSecond: 300, burst: 600 },
      attendeeRetentionDays: 180,
    });
    expect(s.domain).toBeUndefined();
    expect(s.google).toBeUndefined();
    expect(s.wafApiRateLimit).toBeUndefined();
  });

  it("reports every problem at once, each with the command that fixes it", () => {
    const problems = problemsWith({
      "workshop-key-minter:domain": "keys.example.org",
      "workshop-key-minter:googleClientId": "only-the-id",
      "workshop-key-minter:adminEmails": JSON.stringify(["not-an-email"]),
      "workshop-key-minter:logRetentionDays": "10",
      "workshop-key-minter:authDomainPrefix": "my-cognito-login",
    });
    expect(problems).toHaveLength(5);
    expect(problems.join("\n")).toMatch(/pulumi config set certificateArn/);
    expect(problems.join("\n")).toMatch(/googleClientSecret/);
    expect(problems.join("\n")).toMatch(/adminEmails/);
    expect(problems.join("\n")).toMatch(/logRetentionDays/);
    expect(problems.join("\n")).toMatch(/authDomainPrefix/);
  });

  it("takes the session length and the WAF rate limit only in their valid ranges", () => {
    expect(settingsWith({ "workshop-key-minter:sessionHours": "72", "workshop-key-minter:wafApiRateLimit": "300" })).toMatchObject({
      sessionHours: 72,
      wafApiRateLimit: 300,
    });
    const problems = problemsWith({ "workshop-key-minter:sessionHours": "0", "workshop-key-minter:wafApiRateLimit": "5" });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/sessionHours must be a whole number of hours from 1/);
    expect(problems[1]).toMatch(/wafApiRateLimit .* at least 10/);
  });

  it("takes the attendee retention only as whole days from 1 to 3650", () => {
    expect(settingsWith({ "workshop-key-minter:attendeeRetentionDays": "90" }).attendeeRetentionDays).toBe(90);
    for (const bad of ["0", "1.5", "4000"]) {
      expect(problemsWith({ "workshop-key-minter:attendeeRetentionDays": bad })).toEqual([expect.stringMatching(/^attendeeRetentionDays must be a whole number of days from 1 to 3650/)]);
    }
  });
});

describe("the default API throttle: a room of 1,000 claiming within 10 s (docs/deploy.md)", () => {
  const { ratePerSecond: rate, burst } = DEFAULT_API_THROTTLE;
  const { attendees, windowSeconds } = SIZED_ROOM;
  it("lets every request of the room's presses through in their 10 s without one 429", () => {
    // A token bucket lets through at most burst + rate × t in t seconds.
    expect(burst + rate * windowSeconds).toBeGreaterThanOrEqual(attendees * CLAIM_FLOW_REQUESTS.press);
  });
  it("takes the whole flow of the room, page opening included, well within a minute", () => {
    const all = attendees * (CLAIM_FLOW_REQUESTS.pageOpen + CLAIM_FLOW_REQUESTS.press);
    expect(windowSeconds + Math.max(0, all - burst - rate * windowSeconds) / rate).toBeLessThanOrEqual(20);
  });
  it("admits no more claims at once than the account's default Lambda concurrency can run", () => {
    expect(burst + rate * CLAIM_LAMBDA_SECONDS).toBeLessThanOrEqual(CONCURRENCY_FOR_THE_API);
  });
  it("stays inside API Gateway's account-level throttle (10,000 requests a second, bursts of 5,000, per region)", () => {
    expect(rate).toBeLessThanOrEqual(10_000);
    expect(burst).toBeLessThanOrEqual(5_000);
  });
});

describe("the OpenRouter management key and API root", () => {
  it("takes governance assignment (the default) or workspace, and names both fixes for anything else", () => {
    expect(settingsWith({}).governance).toBe("assignment");
    expect(settingsWith({ "workshop-key-minter:governance": "workspace" }).governance).toBe("workspace");
    const [problem] = problemsWith({ "workshop-key-minter:governance": "workspaces" });
    expect(problem).toMatch(/^governance must be one of assignment, workspace, got "workspaces"/);
    expect(problem).toContain("pulumi config set governance assignment");
    expect(problem).toContain("pulumi config set governance workspace");
  });

  it("refuses a management key kept in the stack config, saying how to remove it", () => {
    const problems = problemsWith({ "workshop-key-minter:openrouterManagementKey": "kept-in-config" }, NO_WORKSHOPS);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/pulumi config rm openrouterManagementKey/);
    expect(problems[0]).toMatch(/OPENROUTER_MANAGEMENT_KEY environment variable/);
    expect(problems[0]).not.toContain("kept-in-config");
  });

  it("never takes the Management API root from the committed config", () => {
    delete process.env.OPENROUTER_BASE_URL;
    const problems = problemsWith({ "workshop-key-minter:openrouterBaseUrl": "https://collector.example.net/api/v1" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/pulumi config rm openrouterBaseUrl/);
    expect(problems[0]).toMatch(/OPENROUTER_BASE_URL in the deploy environment/);
  });

  it("defaults to OpenRouter's API root and takes an override from the deploy's environment", () => {
    delete process.env.OPENROUTER_BASE_URL;
    expect(settingsWith({}).openrouterBaseUrl).toBe("https://openrouter.ai/api/v1");
    process.env.OPENROUTER_BASE_URL = "https://openrouter-staging.example.org/api/v1/";
    expect(settingsWith({}).openrouterBaseUrl).toBe("https://openrouter-staging.example.org/api/v1");
    process.env.OPENROUTER_BASE_URL = "http://plain.example.org/api/v1";
    expect(problemsWith({})).toEqual([expect.stringMatching(/^OPENROUTER_BASE_URL must be an https:\/\/ URL/)]);
  });
});

describe("the Cognito login domain prefix", () => {
  it("defaults to a prefix unique to the account and the stack, the same on every deploy", () => {
    const prod = defaultAuthDomainPrefix("prod", "111111111111");
    expect(prod).toMatch(/^workshop-keys-prod-[0-9a-f]{10}$/);
    expect(defaultAuthDomainPrefix("prod", "111111111111")).toBe(prod);
    expect(defaultAuthDomainPrefix("prod", "222222222222")).not.toBe(prod);
    expect(defaultAuthDomainPrefix("staging", "111111111111")).not.toBe(prod);
  });

  it("is always a prefix Cognito accepts, whatever the stack is called", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), fc.stringMatching(/^\d{12}$/), (stack, account) => {
        const prefix = defaultAuthDomainPrefix(stack, account);
        expect(prefix).toMatch(AUTH_DOMAIN_PREFIX_PATTERN);
        expect(authDomainPrefixProblems(prefix)).toEqual([]);
      }),
    );
    expect(defaultAuthDomainPrefix("AWS-Cognito-Demo", ACCOUNT)).toMatch(/^workshop-keys-x-x-demo-[0-9a-f]{10}$/);
    expect(defaultAuthDomainPrefix("Amazon", ACCOUNT)).toMatch(/^workshop-keys-x-[0-9a-f]{10}$/);
  });

  it("refuses a configured prefix outside AWS's pattern or with a reserved word", () => {
    for (const bad of ["Keys", "-keys", "keys-", "keys_example", "a".repeat(64), "keys.example"]) {
      expect(authDomainPrefixProblems(bad), bad).toEqual([expect.stringMatching(/lowercase letters, digits and dashes/)]);
    }
    for (const reserved of ["my-aws-keys", "amazon-workshop", "cognito", "keysaws"]) {
      expect(authDomainPrefixProblems(reserved), reserved).toEqual([expect.stringMatching(/which Cognito refuses/)]);
    }
    expect(authDomainPrefixProblems("a")).toEqual([]);
    expect(authDomainPrefixProblems("keys-example-2027")).toEqual([]);
    expect(settingsWith({ "workshop-key-minter:authDomainPrefix": "keys-example" }).authDomainPrefix).toBe("keys-example");
  });
});

describe("email delivery for a room", () => {
  // Capacity = min(max_keys, floor(cap / budget)).
  const workshop = (slug: string, keys: number, overrides: Partial<Workshop> = {}): Workshop => ({
    ...testWorkshop(slug, NOW + 7 * 24 * 3600_000, { openrouter: { budget_usd: 1, guardrail: { cap_usd: 1000, reset_interval: "monthly", max_keys: keys } } }),
    ...overrides,
  });
  const context = (workshops: Workshop[]): SettingsContext => ({ accountId: ACCOUNT, workshops, now: NOW });
  const SES = {
    "workshop-key-minter:sesFromEmail": "keys@example.org",
    "workshop-key-minter:sesIdentityArn": `arn:aws:ses:eu-central-1:${ACCOUNT}:identity/example.org`,
  };
  const GOOGLE = { "workshop-key-minter:googleClientId": "1234.apps.googleusercontent.com", "workshop-key-minter:googleClientSecret": "s" };

  it("refuses a stack whose open workshops can hand out more than 50 keys with only Cognito's own sender, spelling out the fix", () => {
    const problems = problemsWith({}, context([workshop("morning", 30), workshop("afternoon", 30)]));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/can hand out 60 keys \(morning \(30\), afternoon \(30\)\) and the deploy invites 1 organizers and admins/);
    expect(problems[0]).toMatch(/about 50 emails \(sign-up codes and invitations\) a day/);
    expect(problems[0]).toMatch(/pulumi config set sesFromEmail/);
    expect(problems[0]).toMatch(/pulumi config set sesIdentityArn/);
    expect(problems[0]).toMatch(/production access/);
    expect(problems[0]).toMatch(/googleClientId/);
  });

  it("accepts the same stack with SES or with Google sign-in", () => {
    const big = context([workshop("big", 300)]);
    expect(settingsWith(SES, big).sesEmail).toEqual({ from: "keys@example.org", identityArn: `arn:aws:ses:eu-central-1:${ACCOUNT}:identity/example.org` });
    expect(settingsWith(GOOGLE, big).google?.clientId).toBe("1234.apps.googleusercontent.com");
  });

  it("counts only workshops that can still hand out keys, by their effective capacity", () => {
    // 49 sign-up codes and one organizer's invitation: 50.
    expect(problemsWith({}, context([workshop("small", 49)]))).toEqual([]);
    // max_keys 300 but the cap pays for 40 keys of $5.
    const capped = testWorkshop("capped", NOW + 24 * 3600_000, { openrouter: { budget_usd: 5, guardrail: { cap_usd: 200, reset_interval: "monthly", max_keys: 300 } } });
    expect(problemsWith({}, context([capped]))).toEqual([]);
    expect(problemsWith({}, context([workshop("retired", 300, { is_active: false })]))).toEqual([]);
    const closed = testWorkshop("closed", NOW - 30 * 24 * 3600_000, { openrouter: { guardrail: { cap_usd: 1000, reset_interval: "monthly", max_keys: 300 } } });
    expect(problemsWith({}, context([closed]))).toEqual([]);
    expect(problemsWith({}, context([workshop("small", 49), workshop("one-more", 1)]))).toHaveLength(1);
  });

  it("counts the invitations the deploy sends (admins and the organizers of workshops that are not history) in the same 50, Google or not", () => {
    const organizers = (n: number) => Array.from({ length: n }, (_, i) => `organizer-${i}@example.org`);
    const admins = { "workshop-key-minter:adminEmails": JSON.stringify(["admin-1@example.org", "admin-2@example.org"]) };
    // 40 sign-ups + 8 organizers + 2 admins = 50; one more address tips it over.
    expect(problemsWith(admins, context([workshop("room", 40, { organizers: organizers(8) })]))).toEqual([]);
    const over = problemsWith(admins, context([workshop("room", 40, { organizers: organizers(9) })]));
    expect(over).toEqual([expect.stringMatching(/invites 11 organizers and admins/)]);
    // Google sign-in spares the sign-up codes, not the invitations.
    const many = context([workshop("room", 300, { organizers: organizers(49) })]);
    expect(problemsWith({ ...GOOGLE, ...admins }, many)).toEqual([expect.stringMatching(/attendees sign in with Google and the deploy invites 51 organizers and admins/)]);
    expect(problemsWith({ ...GOOGLE, ...admins }, many)[0]).not.toMatch(/offer Google sign-in/);
    expect(problemsWith({ ...SES, ...admins }, many)).toEqual([]);
    // A workshop that is history invites nobody (stack.ts).
    const past = testWorkshop("past", NOW - 60 * 24 * 3600_000, { organizers: organizers(60) });
    expect(problemsWith({}, context([past]))).toEqual([]);
  });

  it("checks the SES identity's ARN", () => {
    const problems = problemsWith({ ...SES, "workshop-key-minter:sesIdentityArn": "example.org" });
    expect(problems).toEqual([expect.stringMatching(/sesIdentityArn must be a verified SES identity's ARN/)]);
  });
});

describe("Pulumi.example.yaml", () => {
  it("documents only settings the program reads, and its values pass the checks", async () => {
    const { readFileSync } = await import("node:fs");
    const { parse } = await import("yaml");
    const { REPO_ROOT } = await import("./bundle.js");
    const text = readFileSync(`${REPO_ROOT}/Pulumi.example.yaml`, "utf8");
    const read = readFileSync(`${REPO_ROOT}/infra/settings.ts`, "utf8");
    const mentioned = new Set([...text.matchAll(/workshop-key-minter:(\w+)/g)].map((m) => m[1]));
    for (const key of mentioned) expect(read, `Pulumi.example.yaml mentions ${key}`).toContain(`"${key}"`);
    expect(mentioned.size).toBeGreaterThanOrEqual(10);
    // Neither the key nor where it is sent is stack config.
    expect(text).not.toMatch(/openrouterManagementKey|openrouterBaseUrl/);

    const config = (parse(text) as { config: Record<string, unknown> }).config;
    const asStrings = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    expect(settingsWith(asStrings)).toMatchObject({ region: "eu-central-1", adminEmails: ["organizer@example.org"] });
  });
});
