import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { readStackSettings, StackSettingsError } from "./settings.js";
import { installMocks } from "./pulumi-mocks.js";

function settingsWith(config: Record<string, string>) {
  installMocks(config);
  return readStackSettings();
}

describe("readStackSettings", () => {
  it("has working defaults for a first stack", () => {
    const s = settingsWith({});
    expect(s).toMatchObject({
      region: "eu-central-1",
      adminEmails: [],
      authDomainPrefix: `workshop-keys-${pulumi.getStack()}`,
      openrouterBaseUrl: "https://openrouter.ai/api/v1",
      logRetentionDays: 30,
      apiThrottle: { ratePerSecond: 50, burst: 100 },
    });
    expect(s.domain).toBeUndefined();
    expect(s.google).toBeUndefined();
  });

  it("reports every problem at once, each with the command that fixes it", () => {
    let error: unknown;
    try {
      settingsWith({
        "workshop-key-minter:domain": "keys.example.org",
        "workshop-key-minter:googleClientId": "only-the-id",
        "workshop-key-minter:adminEmails": JSON.stringify(["not-an-email"]),
        "workshop-key-minter:logRetentionDays": "10",
        "workshop-key-minter:authDomainPrefix": "my-cognito-login",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StackSettingsError);
    const problems = (error as StackSettingsError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.join("\n")).toMatch(/pulumi config set certificateArn/);
    expect(problems.join("\n")).toMatch(/googleClientSecret/);
    expect(problems.join("\n")).toMatch(/adminEmails/);
    expect(problems.join("\n")).toMatch(/logRetentionDays/);
    expect(problems.join("\n")).toMatch(/authDomainPrefix/);
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

    const config = (parse(text) as { config: Record<string, unknown> }).config;
    const asStrings = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    expect(settingsWith(asStrings)).toMatchObject({ region: "eu-central-1", adminEmails: ["organizer@example.org"] });
  });
});
