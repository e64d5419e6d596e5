import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { claimWindow, DEFAULT_GOVERNANCE, effectiveCapacity, GOVERNANCE_MODES, isGovernanceMode, type GovernanceMode } from "../workshops/derive.js";
import type { Workshop } from "../workshops/schema.js";
import { DEFAULT_RETENTION } from "../functions/data/tables.js";
import { DEFAULT_OPENROUTER_URL } from "../functions/openrouter/client.js";
import { DEFAULT_API_THROTTLE } from "./api-throttle.js";
import { invitedAccounts } from "./auth.js";
import { isHistory } from "./workshop.js";

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
  /** The operator's alarm emails (SNS email subscriptions, each confirmed by its owner); infra/monitoring.ts. */
  alertEmails: string[];
  google?: GoogleSignIn;
  /** The Cognito managed-login domain prefix (globally unique per region). */
  authDomainPrefix: string;
  /** How long a sign-in lasts without asking again (the refresh token's validity). */
  sessionHours: number;
  /**
   * Where the guardrails and keys are managed (the Management API root). Never from the stack
   * config: a pull request could point the deploy's management key at another server.
   */
  openrouterBaseUrl: string;
  /**
   * How attendee keys get their workshop's allow-list (`governance`, default "assignment"):
   * "workspace" gives each workshop an OpenRouter workspace whose default guardrail governs every key
   * created in it (one OpenRouter call per claim instead of two); it needs an organization account.
   * Passed to both Lambdas as OPENROUTER_GOVERNANCE.
   */
  governance: GovernanceMode;
  /** What the key page tells attendees to call. */
  attendeeBaseUrl: string;
  logRetentionDays: number;
  apiThrottle: { ratePerSecond: number; burst: number };
  /** Send Cognito mail through SES (above Cognito's small daily quota for its own sender). */
  sesEmail?: { from: string; identityArn: string };
  /** Optional AWS WAF rule on the distribution: API requests one client IP may make per 5 minutes. */
  wafApiRateLimit?: number;
  /** Days an attendee's profile and consents are kept after they were last written (DynamoDB ttl). */
  attendeeRetentionDays: number;
}

/** What the settings are checked against besides the config: the account, the workshops, the clock. */
export interface SettingsContext {
  /** The AWS account the stack deploys into (part of the default login domain prefix). */
  accountId: string;
  workshops: Workshop[];
  /** The deploy's clock (ms). */
  now: number;
}

export class StackSettingsError extends Error {
  override name = "StackSettingsError";
  constructor(readonly problems: string[]) {
    super(`the stack configuration has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** The deploy environment's override of the Management API root (e.g. a staging proxy). */
export const OPENROUTER_BASE_URL_ENV = "OPENROUTER_BASE_URL";
/** Sign-up and invitation mails Cognito's built-in sender delivers per day (its documented quota). */
export const COGNITO_DAILY_EMAILS = 50;
export const DEFAULT_SESSION_HOURS = 24;
// Cognito's refresh token lives between 1 hour and 10 years; a workshop needs a day, a week at most.
const MAX_SESSION_HOURS = 24 * 30;
/** Ten years: past that a retention period is no retention at all. */
const MAX_RETENTION_DAYS = 3650;
// AWS WAF rate-based rules count at least 10 requests per window.
const MIN_WAF_RATE_LIMIT = 10;
/** CreateUserPoolDomain's pattern for a prefix domain. */
export const AUTH_DOMAIN_PREFIX_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Words Cognito refuses inside a prefix domain. */
export const AUTH_DOMAIN_RESERVED_WORDS = ["aws", "amazon", "cognito"];
const LOG_RETENTION_CHOICES = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export function readStackSettings(context: SettingsContext): StackSettings {
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

  const alertEmails = config.getObject<string[]>("alertEmails") ?? [];
  if (!Array.isArray(alertEmails) || alertEmails.some((e) => typeof e !== "string" || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e))) {
    problems.push('alertEmails must be a list of email addresses: `pulumi config set --path "alertEmails[0]" oncall@example.org`');
  }

  const googleClientId = config.get("googleClientId");
  const googleClientSecret = config.getSecret("googleClientSecret");
  if (Boolean(googleClientId) !== Boolean(googleClientSecret)) {
    problems.push("Google sign-in needs both googleClientId and googleClientSecret (`pulumi config set --secret googleClientSecret …`)");
  }

  const authDomainPrefix = config.get("authDomainPrefix") ?? defaultAuthDomainPrefix(pulumi.getStack(), context.accountId);
  problems.push(...authDomainPrefixProblems(authDomainPrefix));

  const sessionHours = config.getNumber("sessionHours") ?? DEFAULT_SESSION_HOURS;
  if (!Number.isInteger(sessionHours) || sessionHours < 1 || sessionHours > MAX_SESSION_HOURS) {
    problems.push(`sessionHours must be a whole number of hours from 1 to ${MAX_SESSION_HOURS} (how long a sign-in lasts), got ${sessionHours}`);
  }

  // The management key never sits in the stack config: the preview's passphrase or token would
  // decrypt it, and a pull request's own code runs in the preview.
  if (config.get("openrouterManagementKey") !== undefined) {
    problems.push(
      "openrouterManagementKey is in the stack config, where a preview could decrypt it: remove it (`pulumi config rm openrouterManagementKey`) " +
        "and give `pulumi up` the key as the OPENROUTER_MANAGEMENT_KEY environment variable (the production environment's secret)",
    );
  }
  // Where the management key is sent is not the stack config's to say either: a pull request edits
  // the config, and the merge's deploy would send the key there.
  if (config.get("openrouterBaseUrl") !== undefined) {
    problems.push(
      `openrouterBaseUrl is not read from the stack config (a pull request could send the management key elsewhere): remove it (\`pulumi config rm openrouterBaseUrl\`) and, to use another Management API root, set ${OPENROUTER_BASE_URL_ENV} in the deploy environment`,
    );
  }
  const openrouterBaseUrl = process.env[OPENROUTER_BASE_URL_ENV]?.trim() || DEFAULT_OPENROUTER_URL;
  const attendeeBaseUrl = config.get("attendeeBaseUrl") ?? DEFAULT_OPENROUTER_URL;
  for (const [key, value] of [[OPENROUTER_BASE_URL_ENV, openrouterBaseUrl], ["attendeeBaseUrl", attendeeBaseUrl]] as const) {
    if (!/^https:\/\/[^/]+/.test(value)) problems.push(`${key} must be an https:// URL, got "${value}"`);
  }

  const governanceSetting = config.get("governance") ?? DEFAULT_GOVERNANCE;
  if (!isGovernanceMode(governanceSetting)) {
    problems.push(
      `governance must be one of ${GOVERNANCE_MODES.join(", ")}, got "${governanceSetting}": \`pulumi config set governance assignment\` (any OpenRouter account) ` +
        "or `pulumi config set governance workspace` (an OpenRouter organization account: one workspace per workshop, one call per claim)",
    );
  }
  const governance = isGovernanceMode(governanceSetting) ? governanceSetting : DEFAULT_GOVERNANCE;

  const logRetentionDays = config.getNumber("logRetentionDays") ?? 30;
  if (!LOG_RETENTION_CHOICES.includes(logRetentionDays)) {
    problems.push(`logRetentionDays must be one of CloudWatch's choices (${LOG_RETENTION_CHOICES.join(", ")})`);
  }

  const ratePerSecond = config.getNumber("apiRatePerSecond") ?? DEFAULT_API_THROTTLE.ratePerSecond;
  const burst = config.getNumber("apiBurst") ?? DEFAULT_API_THROTTLE.burst;
  if (!(ratePerSecond > 0) || !(burst > 0)) problems.push("apiRatePerSecond and apiBurst must be positive numbers");

  const wafApiRateLimit = config.getNumber("wafApiRateLimit");
  if (wafApiRateLimit !== undefined && !(Number.isInteger(wafApiRateLimit) && wafApiRateLimit >= MIN_WAF_RATE_LIMIT)) {
    problems.push(`wafApiRateLimit must be a whole number of API requests per client IP per 5 minutes, at least ${MIN_WAF_RATE_LIMIT}, got ${wafApiRateLimit}`);
  }

  const attendeeRetentionDays = config.getNumber("attendeeRetentionDays") ?? DEFAULT_RETENTION.attendeeDays;
  if (!Number.isInteger(attendeeRetentionDays) || attendeeRetentionDays < 1 || attendeeRetentionDays > MAX_RETENTION_DAYS) {
    problems.push(
      `attendeeRetentionDays must be a whole number of days from 1 to ${MAX_RETENTION_DAYS} (how long profiles and consents are kept after they were last written), got ${attendeeRetentionDays}`,
    );
  }

  const sesFrom = config.get("sesFromEmail");
  const sesIdentityArn = config.get("sesIdentityArn");
  if (Boolean(sesFrom) !== Boolean(sesIdentityArn)) {
    problems.push("sending Cognito mail through SES needs both sesFromEmail and sesIdentityArn");
  }
  if (sesIdentityArn && !/^arn:aws:ses:[a-z0-9-]+:\d{12}:identity\/.+$/.test(sesIdentityArn)) {
    problems.push(`sesIdentityArn must be a verified SES identity's ARN like arn:aws:ses:${region || "eu-central-1"}:123456789012:identity/example.org, got "${sesIdentityArn}"`);
  }
  const sesEmail = sesFrom && sesIdentityArn ? { from: sesFrom, identityArn: sesIdentityArn } : undefined;
  const google = googleClientId && googleClientSecret ? { clientId: googleClientId, clientSecret: googleClientSecret } : undefined;
  problems.push(...emailDeliveryProblems(context.workshops, context.now, { ses: Boolean(sesEmail), google: Boolean(google) }, validEmails(adminEmails)));

  if (problems.length > 0) throw new StackSettingsError(problems);
  return {
    region,
    domain: domainName && certificateArn ? { name: domainName, certificateArn } : undefined,
    adminEmails: adminEmails.map((e) => e.trim().toLowerCase()),
    alertEmails: alertEmails.map((e) => e.trim()),
    google,
    authDomainPrefix,
    sessionHours,
    openrouterBaseUrl: openrouterBaseUrl.replace(/\/+$/, ""),
    governance,
    attendeeBaseUrl: attendeeBaseUrl.replace(/\/+$/, ""),
    logRetentionDays,
    apiThrottle: { ratePerSecond, burst },
    sesEmail,
    wafApiRateLimit,
    attendeeRetentionDays,
  };
}

/**
 * The login domain prefix when none is configured: `workshop-keys-<stack>-<hash>`, where the hash
 * of the account and the stack keeps two accounts' `prod` stacks (prefixes are unique across every
 * AWS customer in a region) from colliding, and stays the same from deploy to deploy.
 */
export function defaultAuthDomainPrefix(stack: string, accountId: string): string {
  const hash = createHash("sha256").update(`${accountId}/${stack}`).digest("hex").slice(0, 10);
  const readable = stack
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    // The stack's own name must not smuggle in a word Cognito refuses.
    .replace(new RegExp(AUTH_DOMAIN_RESERVED_WORDS.join("|"), "g"), "x")
    .replace(/-+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 30)
    .replace(/-+$/, "");
  return readable ? `workshop-keys-${readable}-${hash}` : `workshop-keys-${hash}`;
}

/** Why Cognito would refuse a prefix domain, as fixes (none when it is fine). */
export function authDomainPrefixProblems(prefix: string): string[] {
  const problems: string[] = [];
  if (!AUTH_DOMAIN_PREFIX_PATTERN.test(prefix)) {
    problems.push(`authDomainPrefix "${prefix}" must be 1-63 lowercase letters, digits and dashes, starting and ending with a letter or digit (\`pulumi config set authDomainPrefix keys-example\`)`);
  }
  const reserved = AUTH_DOMAIN_RESERVED_WORDS.filter((w) => prefix.includes(w));
  if (reserved.length > 0) {
    problems.push(`authDomainPrefix "${prefix}" contains ${reserved.map((w) => `"${w}"`).join(" and ")}, which Cognito refuses in a domain prefix: choose another (\`pulumi config set authDomainPrefix keys-example\`)`);
  }
  return problems;
}

const validEmails = (list: unknown): string[] => (Array.isArray(list) ? list.filter((e): e is string => typeof e === "string") : []);

/**
 * Cognito's built-in sender delivers about 50 emails a day. Every attendee's sign-up needs one (the
 * code) unless they sign in with Google, and the deploy sends one invitation (a temporary password)
 * per admin and organizer account (auth.ts); a stack that needs more than that would leave most of
 * the room waiting for a code that never comes, unless SES sends the mail.
 */
export function emailDeliveryProblems(workshops: Workshop[], now: number, senders: { ses: boolean; google: boolean }, adminEmails: string[] = []): string[] {
  if (senders.ses) return [];
  const upcoming = workshops.filter((w) => claimWindow(w, now) !== "closed");
  const keys = senders.google ? 0 : upcoming.reduce((sum, w) => sum + effectiveCapacity(w), 0);
  // The accounts the deploy creates: admins and the organizers of every workshop that is not history.
  const invitations = invitedAccounts(adminEmails, workshops.filter((w) => !isHistory(w, now)).flatMap((w) => w.organizers)).length;
  if (keys + invitations <= COGNITO_DAILY_EMAILS) return [];
  const which = upcoming.map((w) => `${w.slug} (${effectiveCapacity(w)})`).join(", ");
  const signUps = senders.google ? "attendees sign in with Google" : `the active workshops can hand out ${keys} keys (${which})`;
  return [
    `${signUps} and the deploy invites ${invitations} organizers and admins, but Cognito's built-in email sender delivers only about ${COGNITO_DAILY_EMAILS} emails (sign-up codes and invitations) a day: ` +
      "send the mail through Amazon SES (verify a domain or address in SES, request production access, then " +
      "`pulumi config set sesFromEmail keys@example.org` and `pulumi config set sesIdentityArn arn:aws:ses:<region>:<account>:identity/example.org`; README, \"Sign-up email\")" +
      (senders.google ? "" : " or offer Google sign-in (`pulumi config set googleClientId …` and `pulumi config set --secret googleClientSecret …`)"),
  ];
}
