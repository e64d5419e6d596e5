import { ConfigError, readGovernance, type FunctionsConfig } from "../config.js";
import { DEFAULT_OPENROUTER_URL } from "../openrouter/client.js";

/**
 * The jobs Lambda's environment: the tables and OpenRouter, nothing about sign-in (the jobs
 * function is invoked by the scheduler, never by a browser, so it is deployed without AUTH_*).
 * Same variable names and the same error as functions/config.ts; read once at cold start.
 */
export type JobsConfig = Pick<FunctionsConfig, "tables" | "openrouter">;

export function readJobsConfig(env: NodeJS.ProcessEnv = process.env): JobsConfig {
  const problems: string[] = [];
  const optional = (name: string) => env[name]?.trim() || undefined;
  const required = (name: string): string => {
    const v = optional(name);
    if (!v) problems.push(`${name} is required`);
    return v ?? "";
  };
  const tables = { attendees: required("ATTENDEES_TABLE"), workshops: required("WORKSHOPS_TABLE") };
  const secretArn = optional("OPENROUTER_SECRET_ARN");
  const managementKey = optional("OPENROUTER_MANAGEMENT_KEY");
  if (!secretArn && !managementKey) problems.push("OPENROUTER_SECRET_ARN (cloud) or OPENROUTER_MANAGEMENT_KEY (local) is required");
  const baseUrl = optional("OPENROUTER_BASE_URL");
  if (baseUrl && !URL.canParse(baseUrl)) problems.push(`OPENROUTER_BASE_URL must be a URL, got ${JSON.stringify(baseUrl)}`);
  const governance = readGovernance(optional("OPENROUTER_GOVERNANCE"), problems);
  if (problems.length) throw new ConfigError(problems);
  return {
    tables,
    openrouter: { baseUrl: baseUrl ?? DEFAULT_OPENROUTER_URL, ...(secretArn ? { secretArn } : { managementKey }), governance },
  };
}
