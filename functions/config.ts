import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { AuthConfig } from "./auth/verify.js";
import { DEFAULT_RETENTION, type RetentionPolicy, type TableNames } from "./data/tables.js";
import { DEFAULT_OPENROUTER_URL } from "./openrouter/client.js";
import { DEFAULT_GOVERNANCE, GOVERNANCE_MODES, isGovernanceMode, type GovernanceMode } from "../workshops/derive.js";

/**
 * The Lambdas' environment, read once at cold start. A missing variable fails the container loudly
 * with every missing name at once, instead of a claim failing later with a confusing error.
 */

export interface FunctionsConfig {
  tables: TableNames;
  openrouter: {
    baseUrl: string;
    /** Cloud: the management key lives in Secrets Manager. */
    secretArn?: string;
    /** Local: the management key comes from the environment. */
    managementKey?: string;
    /** OPENROUTER_GOVERNANCE: how keys get their workshop's allow-list (workshops/derive.ts `GovernanceMode`); default "assignment". */
    governance: GovernanceMode;
  };
  auth: Required<Pick<AuthConfig, "issuer" | "clientId" | "adminGroup">> & Pick<AuthConfig, "jwksUri">;
  attendeeBaseUrl: string;
  /** Browser origins allowed to call the API cross-origin (CORS_ALLOWED_ORIGINS, comma-separated). */
  allowedOrigins: string[];
  /** ATTENDEE_RETENTION_DAYS: how long attendee profiles and consents are kept after they were last written. */
  retention: RetentionPolicy;
  /**
   * The header value CloudFront adds (api/origin-verify.ts): in the cloud the ARN of the Secrets
   * Manager secret that holds it (ORIGIN_VERIFY_SECRET_ARN), read once per container like the
   * management key, so no Lambda environment carries it in the clear; the value itself
   * (ORIGIN_VERIFY_SECRET) only where there is no AWS (tests). Neither: no check (the local stack).
   */
  originVerify?: { secretArn: string } | { value: string };
}

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    options?: { cause?: unknown },
  ) {
    super(`The function's environment is incomplete:\n${problems.map((p) => `  - ${p}`).join("\n")}`, options);
    this.name = "ConfigError";
  }
}

const MISSING_KEY = (arn: string) =>
  `secret ${arn} holds no OpenRouter management key yet: put it there once with ` +
  `\`aws secretsmanager put-secret-value --secret-id ${arn} --secret-string "$OPENROUTER_MANAGEMENT_KEY"\` (README, Deploy)`;


export function readConfig(env: NodeJS.ProcessEnv = process.env): FunctionsConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const v = env[name]?.trim();
    if (!v) problems.push(`${name} is required`);
    return v ?? "";
  };
  const optional = (name: string) => env[name]?.trim() || undefined;

  const tables = { attendees: required("ATTENDEES_TABLE"), workshops: required("WORKSHOPS_TABLE") };
  const secretArn = optional("OPENROUTER_SECRET_ARN");
  const managementKey = optional("OPENROUTER_MANAGEMENT_KEY");
  if (!secretArn && !managementKey) problems.push("OPENROUTER_SECRET_ARN (cloud) or OPENROUTER_MANAGEMENT_KEY (local) is required");
  const issuer = required("AUTH_ISSUER");
  const clientId = required("AUTH_CLIENT_ID");
  const urls: [string, string | undefined][] = [
    ["OPENROUTER_BASE_URL", optional("OPENROUTER_BASE_URL")],
    ["AUTH_ISSUER", issuer || undefined],
    ["AUTH_JWKS_URI", optional("AUTH_JWKS_URI")],
    ["ATTENDEE_BASE_URL", optional("ATTENDEE_BASE_URL")],
  ];
  for (const [name, v] of urls) {
    if (v && !URL.canParse(v)) problems.push(`${name} must be a URL, got ${JSON.stringify(v)}`);
  }
  const governance = readGovernance(optional("OPENROUTER_GOVERNANCE"), problems);
  const retentionDays = optional("ATTENDEE_RETENTION_DAYS");
  const attendeeDays = retentionDays === undefined ? DEFAULT_RETENTION.attendeeDays : Number(retentionDays);
  if (!Number.isInteger(attendeeDays) || attendeeDays < 1) problems.push(`ATTENDEE_RETENTION_DAYS must be a whole number of days (1 or more), got ${JSON.stringify(retentionDays)}`);
  if (problems.length) throw new ConfigError(problems);

  return {
    tables,
    openrouter: {
      baseUrl: optional("OPENROUTER_BASE_URL") ?? DEFAULT_OPENROUTER_URL,
      ...(secretArn ? { secretArn } : { managementKey }),
      governance,
    },
    auth: { issuer, clientId, jwksUri: optional("AUTH_JWKS_URI"), adminGroup: optional("ADMIN_GROUP") ?? "admins" },
    attendeeBaseUrl: optional("ATTENDEE_BASE_URL") ?? DEFAULT_OPENROUTER_URL,
    allowedOrigins: (optional("CORS_ALLOWED_ORIGINS") ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    retention: { ...DEFAULT_RETENTION, attendeeDays },
    ...originVerifyFrom(optional("ORIGIN_VERIFY_SECRET_ARN"), optional("ORIGIN_VERIFY_SECRET")),
  };
}

/** OPENROUTER_GOVERNANCE, checked: both Lambdas read it the same way (a typo fails the cold start, not a claim). */
export function readGovernance(value: string | undefined, problems: string[]): GovernanceMode {
  if (value === undefined) return DEFAULT_GOVERNANCE;
  if (isGovernanceMode(value)) return value;
  problems.push(`OPENROUTER_GOVERNANCE must be one of ${GOVERNANCE_MODES.join(", ")}, got ${JSON.stringify(value)}`);
  return DEFAULT_GOVERNANCE;
}

function originVerifyFrom(secretArn: string | undefined, value: string | undefined): Pick<FunctionsConfig, "originVerify"> {
  if (secretArn) return { originVerify: { secretArn } };
  return value ? { originVerify: { value } } : {};
}

/**
 * The SecretString of a secret; no `value` when it has none yet (with Secrets Manager's answer as
 * `cause`). Any other failure is thrown as it is. Never log the result.
 */
async function secretString(client: SecretsManagerClient, arn: string): Promise<{ value?: string; cause?: unknown }> {
  try {
    const res = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    return { value: res.SecretString?.trim() || undefined };
  } catch (err) {
    if ((err as Error).name === "ResourceNotFoundException") return { cause: err };
    throw err;
  }
}

/**
 * The value CloudFront's origin header must carry: from Secrets Manager in the cloud (the deploy
 * puts it there, infra/secrets.ts), as given where there is no AWS. Call once per container.
 */
export async function loadOriginVerifySecret(originVerify: NonNullable<FunctionsConfig["originVerify"]>, secrets?: SecretsManagerClient): Promise<string> {
  if ("value" in originVerify) return originVerify.value;
  const { value, cause } = await secretString(secrets ?? new SecretsManagerClient({}), originVerify.secretArn);
  if (!value) throw new ConfigError([`secret ${originVerify.secretArn} holds no origin-verify value: the deploy writes it; run the deploy again`], { cause });
  return value;
}

/**
 * The OpenRouter management key: from Secrets Manager in the cloud (a plain string, or JSON with a
 * `key`/`managementKey`/`OPENROUTER_MANAGEMENT_KEY` field), from the environment locally. Call once
 * per container; never log the result.
 */
export async function loadManagementKey(config: { openrouter: Pick<FunctionsConfig["openrouter"], "secretArn" | "managementKey"> }, secrets?: SecretsManagerClient): Promise<string> {
  if (config.openrouter.managementKey) return config.openrouter.managementKey;
  const arn = config.openrouter.secretArn!;
  // The deploy creates the secret empty; its value is put by hand once (README, Deploy). Until
  // then every call that needs OpenRouter says so, instead of an opaque AWS error.
  const { value: raw, cause } = await secretString(secrets ?? new SecretsManagerClient({}), arn);
  if (!raw) throw new ConfigError([MISSING_KEY(arn)], { cause });
  if (raw.startsWith("{")) {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(raw) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError([`secret ${arn} looks like JSON but does not parse (${err instanceof Error ? err.name : "error"})`]);
    }
    const key = [parsed.key, parsed.managementKey, parsed.OPENROUTER_MANAGEMENT_KEY].find((v) => typeof v === "string" && v);
    if (typeof key !== "string") throw new ConfigError([`secret ${arn} holds JSON without a "key" field`]);
    return key;
  }
  return raw;
}
