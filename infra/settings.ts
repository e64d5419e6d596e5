import * as pulumi from "@pulumi/pulumi";

/**
 * The stack's configuration (`Pulumi.<stack>.yaml`), read and checked in one place. Every problem
 * is reported at once, naming the `pulumi config set` that fixes it, before any resource exists.
 */

export interface CustomDomain {
  /** e.g. keys.example.org; a CNAME to the distribution is the organizer's to create. */
  name: string;
  /** An ACM certificate for `name`, issued in us-east-1 (CloudFront only reads that region). */
  certificateArn: string;
}

export interface GoogleSignIn {
  clientId: string;
  clientSecret: pulumi.Output<string>;
}

export interface StackSettings {
  region: string;
  domain?: CustomDomain;
  /** People who get the `admins` group: a Cognito user is created and invited for each. */
  adminEmails: string[];
  google?: GoogleSignIn;
  /** The Cognito managed-login domain prefix (globally unique per region). */
  authDomainPrefix: string;
  /** Where the guardrails and keys are managed (the Management API root). */
  openrouterBaseUrl: string;
  /** What the key page tells attendees to call. */
  attendeeBaseUrl: string;
  logRetentionDays: number;
  apiThrottle: { ratePerSecond: number; burst: number };
  /** Send Cognito mail through SES (above Cognito's small daily quota for its own sender). */
  sesEmail?: { from: string; identityArn: string };
}

export class StackSettingsError extends Error {
  override name = "StackSettingsError";
  constructor(readonly problems: string[]) {
    super(`the stack configuration has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

export const DEFAULT_OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1";
const LOG_RETENTION_CHOICES = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export function readStackSettings(): StackSettings {
  const config = new pulumi.Config();
  const awsConfig = new pulumi.Config("aws");
  const problems: string[] = [];

  const region = awsConfig.get("region") ?? process.env.AWS_REGION ?? "";
  if (!region) problems.push("no AWS region: `pulumi config set aws:region eu-central-1`");

  const domainName = config.get("domain");
  const certificateArn = config.get("certificateArn");
  if (domainName && !certificateArn) {
    problems.push("domain is set without certificateArn: `pulumi config set certificateArn arn:aws:acm:us-east-1:…` (a certificate for the domain, in us-east-1)");
  }
  if (certificateArn && !certificateArn.startsWith("arn:aws:acm:us-east-1:")) {
    problems.push("certificateArn must be an ACM certificate in us-east-1 (CloudFront reads certificates only from there)");
  }
  if (domainName && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/.test(domainName)) {
    problems.push(`domain "${domainName}" is not a host name like keys.example.org`);
  }

  const adminEmails = config.getObject<string[]>("adminEmails") ?? [];
  if (!Array.isArray(adminEmails) || adminEmails.some((e) => typeof e !== "string" || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e))) {
    problems.push('adminEmails must be a list of email addresses: `pulumi config set --path "adminEmails[0]" you@example.org`');
  }

  const googleClientId = config.get("googleClientId");
  const googleClientSecret = config.getSecret("googleClientSecret");
  if (Boolean(googleClientId) !== Boolean(googleClientSecret)) {
    problems.push("Google sign-in needs both googleClientId and googleClientSecret (`pulumi config set --secret googleClientSecret …`)");
  }

  const authDomainPrefix = config.get("authDomainPrefix") ?? `workshop-keys-${pulumi.getStack()}`.toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(authDomainPrefix) || authDomainPrefix.includes("cognito") || authDomainPrefix.includes("aws")) {
    problems.push(`authDomainPrefix "${authDomainPrefix}" must be lowercase letters, digits and dashes, without "aws" or "cognito"`);
  }

  const openrouterBaseUrl = config.get("openrouterBaseUrl") ?? process.env.OPENROUTER_BASE_URL ?? DEFAULT_OPENROUTER_BASE_URL;
  const attendeeBaseUrl = config.get("attendeeBaseUrl") ?? DEFAULT_OPENROUTER_BASE_URL;
  for (const [key, value] of [["openrouterBaseUrl", openrouterBaseUrl], ["attendeeBaseUrl", attendeeBaseUrl]] as const) {
    if (!/^https:\/\/[^/]+/.test(value)) problems.push(`${key} must be an https:// URL, got "${value}"`);
  }

  const logRetentionDays = config.getNumber("logRetentionDays") ?? 30;
  if (!LOG_RETENTION_CHOICES.includes(logRetentionDays)) {
    problems.push(`logRetentionDays must be one of CloudWatch's choices (${LOG_RETENTION_CHOICES.join(", ")})`);
  }

  const ratePerSecond = config.getNumber("apiRatePerSecond") ?? 50;
  const burst = config.getNumber("apiBurst") ?? 100;
  if (!(ratePerSecond > 0) || !(burst > 0)) problems.push("apiRatePerSecond and apiBurst must be positive numbers");

  const sesFrom = config.get("sesFromEmail");
  const sesIdentityArn = config.get("sesIdentityArn");
  if (Boolean(sesFrom) !== Boolean(sesIdentityArn)) {
    problems.push("sending Cognito mail through SES needs both sesFromEmail and sesIdentityArn");
  }

  if (problems.length > 0) throw new StackSettingsError(problems);
  return {
    region,
    domain: domainName && certificateArn ? { name: domainName, certificateArn } : undefined,
    adminEmails: adminEmails.map((e) => e.trim().toLowerCase()),
    google: googleClientId && googleClientSecret ? { clientId: googleClientId, clientSecret: googleClientSecret } : undefined,
    authDomainPrefix,
    openrouterBaseUrl: openrouterBaseUrl.replace(/\/+$/, ""),
    attendeeBaseUrl: attendeeBaseUrl.replace(/\/+$/, ""),
    logRetentionDays,
    apiThrottle: { ratePerSecond, burst },
    sesEmail: sesFrom && sesIdentityArn ? { from: sesFrom, identityArn: sesIdentityArn } : undefined,
  };
}
