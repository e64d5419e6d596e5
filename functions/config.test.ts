import { ResourceNotFoundException, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { ConfigError, loadManagementKey, loadOriginVerifySecret, readConfig } from "./config.js";
import { readJobsConfig } from "./jobs/config.js";

const ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:workshop-key-minter/prod/openrouter-management-key-AbCdEf";
const config = { openrouter: { baseUrl: "https://openrouter.ai/api/v1", secretArn: ARN } };

/**
 * Secrets Manager has no local stand-in here, so these clients answer as the real service does for
 * a secret the first deploy created and nobody has filled yet (a fault no local part produces).
 */
const answering = (send: () => Promise<unknown>) => ({ send }) as unknown as SecretsManagerClient;

describe("loadManagementKey before the key is put into its secret", () => {
  it("says which secret is empty and the command that fills it, when the secret has no value at all", async () => {
    const empty = answering(async () => {
      throw new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT", $metadata: {} });
    });
    const error = await loadManagementKey(config, empty).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(ARN);
    expect((error as Error).message).toContain(`aws secretsmanager put-secret-value --secret-id ${ARN}`);
    expect((error as Error).cause).toBeInstanceOf(ResourceNotFoundException);
  });

  it("says the same for a value that is only whitespace", async () => {
    const blank = answering(async () => ({ SecretString: "  \n" }));
    await expect(loadManagementKey(config, blank)).rejects.toThrow(/holds no OpenRouter management key yet/);
  });

  it("passes any other Secrets Manager failure on as it is", async () => {
    const throttled = answering(async () => {
      throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    });
    await expect(loadManagementKey(config, throttled)).rejects.toThrow(/^Rate exceeded$/);
  });
});

describe("loadOriginVerifySecret", () => {
  const originArn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:workshop-key-minter/prod/origin-verify-AbCdEf";

  it("answers the secret's value in the cloud, and the given value where there is no AWS", async () => {
    const asked: unknown[] = [];
    const client = { send: async (command: { input: unknown }) => (asked.push(command.input), { SecretString: "from-secrets-manager\n" }) } as unknown as SecretsManagerClient;
    expect(await loadOriginVerifySecret({ secretArn: originArn }, client)).toBe("from-secrets-manager");
    expect(asked).toEqual([{ SecretId: originArn }]);
    expect(await loadOriginVerifySecret({ value: "local" }, answering(async () => Promise.reject(new Error("no AWS here"))))).toBe("local");
  });

  it("names the secret when it has no value, without ever printing one", async () => {
    const empty = answering(async () => {
      throw new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT", $metadata: {} });
    });
    const error = await loadOriginVerifySecret({ secretArn: originArn }, empty).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(originArn);
  });
});

describe("OPENROUTER_GOVERNANCE", () => {
  const base = { ATTENDEES_TABLE: "a", WORKSHOPS_TABLE: "w", OPENROUTER_MANAGEMENT_KEY: "local-key", AUTH_ISSUER: "https://issuer.example.com", AUTH_CLIENT_ID: "c" };

  it("defaults to assignment, takes workspace, and is read the same by both Lambdas", () => {
    expect(readConfig(base).openrouter.governance).toBe("assignment");
    expect(readConfig({ ...base, OPENROUTER_GOVERNANCE: "workspace" }).openrouter.governance).toBe("workspace");
    expect(readJobsConfig({ ...base, OPENROUTER_GOVERNANCE: "workspace" }).openrouter.governance).toBe("workspace");
    expect(readJobsConfig(base).openrouter.governance).toBe("assignment");
  });

  it("fails the cold start on anything else, naming the variable and the choices", () => {
    for (const read of [readConfig, readJobsConfig]) {
      const error = (() => {
        try {
          read({ ...base, OPENROUTER_GOVERNANCE: "workspaces" });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain('OPENROUTER_GOVERNANCE must be one of assignment, workspace, got "workspaces"');
    }
  });
});
