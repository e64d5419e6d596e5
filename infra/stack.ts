import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { TABLES } from "../functions/data/tables.js";
import type { Workshop } from "../workshops/schema.js";
import { HttpApi } from "./api.js";
import { AttendeeAuth, AUTH_SCOPE, managedLoginOrigin } from "./auth.js";
import type { BundledFunction } from "./bundle.js";
import { DataTables } from "./data.js";
import { ApiFirewall } from "./firewall.js";
import { resourcePrefix, roleBoundaryArn } from "./iam/documents.js";
import { MinterFunctions } from "./functions.js";
import { Monitoring } from "./monitoring.js";
import { JobSchedules } from "./schedules.js";
import { managementKeySecretArnPattern, managementKeySecretName, originVerifySecret as originVerifySecretOf } from "./secrets.js";
import type { StackSettings } from "./settings.js";
import { SiteConfigFile } from "./site-config.js";
import { siteContentSecurityPolicy, StaticSite, type CspSources } from "./site.js";
import { isHistory, WorkshopDeployment, workshopIndexItem } from "./workshop.js";

export interface StackInputs {
  workshops: Workshop[];
  settings: StackSettings;
  /** The built web site (web/dist). */
  siteDir: string;
  /** The deploy's clock (ms), for the schedules. */
  now: number;
  /** The AWS account deployed into (the roles' permissions boundary lives there; the scheduler's role trusts only its schedules). */
  accountId: string;
  /** Lambda packaging; defaults to esbuild (infra/bundle.ts). */
  bundle?: (entry: string, name: string) => Promise<BundledFunction>;
}

/**
 * The whole stack, as a recipe of components. Order matters only where one needs another's
 * output: the site's origin is needed by sign-in, sign-in by the functions, the functions by the
 * API, and the API's host by the site's CloudFront behavior for /api/* (hence the one deferred
 * output: CloudFront and the API know each other without a cycle between resources).
 */
export function workshopKeyMinter(inputs: StackInputs) {
  const { settings, workshops } = inputs;
  // Workshops whose keys had expired when this deploy ran get no guardrail, no schedule and no
  // invitation (workshop.ts `isHistory`): a fresh stack does nothing for past workshops.
  const live = workshops.filter((w) => !isHistory(w, inputs.now));
  // The site calls the API on its own origin (CloudFront /api/*); a custom domain is the only other
  // origin a browser could call it from. CloudFront's own host name cannot be listed: the API would
  // then depend on the distribution that depends on the API.
  const corsOrigins = settings.domain ? [`https://${settings.domain.name}`] : [];
  const stack = pulumi.getStack();
  const tags = { app: "workshop-key-minter", stack };
  // The names and the boundary the deploy role's policy allows (infra/iam/deploy-policy.json).
  const prefix = resourcePrefix(stack);
  const boundary = roleBoundaryArn(inputs.accountId, stack);

  const data = new DataTables("data", { namePrefix: prefix, tags });
  // Created with its value in the one-time setup (secrets.ts): the program only names it.
  const managementKey = { name: managementKeySecretName(stack), arnPattern: managementKeySecretArnPattern(settings.region, inputs.accountId, stack) };

  // CloudFront proves to the API that a request came through it with this value: random once, then
  // kept in the state, so it holds from deploy to deploy; a Pulumi secret wherever it is used, so
  // the state and the preview's diff never show it in the clear. The API function reads it from
  // Secrets Manager, not from its environment.
  const originVerifySecret = pulumi.secret(new random.RandomPassword("api-origin-verify", { length: 48, special: false }).result);
  const originVerify = originVerifySecretOf("origin-verify", stack, originVerifySecret, tags);
  const firewall =
    settings.wafApiRateLimit !== undefined ? new ApiFirewall("firewall", { apiRequestsPerIpPer5Minutes: settings.wafApiRateLimit, namePrefix: prefix, tags }) : undefined;

  const [apiDomain, resolveApiDomain] = pulumi.deferredOutput<string>();
  const site = new StaticSite("site", {
    siteDir: inputs.siteDir,
    apiDomain,
    originVerifySecret,
    webAclArn: firewall?.webAcl.arn,
    bucketPrefix: `${prefix}site-`,
    namePrefix: prefix,
    domain: settings.domain,
    contentSecurityPolicy: siteContentSecurityPolicy(siteCspSources(settings)),
    tags,
  });

  const auth = new AttendeeAuth("auth", {
    region: settings.region,
    siteOrigin: site.origin,
    domainPrefix: settings.authDomainPrefix,
    adminEmails: settings.adminEmails,
    organizerEmails: live.flatMap((w) => w.organizers),
    sessionHours: settings.sessionHours,
    google: settings.google,
    sesEmail: settings.sesEmail,
    tags,
  });

  const functions = new MinterFunctions("functions", {
    tables: {
      attendees: { name: data.attendees.name, arn: data.attendees.arn },
      workshops: { name: data.workshops.name, arn: data.workshops.arn },
    },
    managementKeySecret: managementKey,
    auth: { issuer: auth.issuer, clientId: auth.clientId, jwksUri: auth.jwksUri },
    openrouterBaseUrl: settings.openrouterBaseUrl,
    governance: settings.governance,
    attendeeBaseUrl: settings.attendeeBaseUrl,
    logRetentionDays: settings.logRetentionDays,
    attendeeRetentionDays: settings.attendeeRetentionDays,
    corsOrigins,
    originVerifySecretArn: originVerify.arn,
    rolePrefix: prefix,
    roleBoundaryArn: boundary,
    bundle: inputs.bundle,
    tags,
  });

  const api = new HttpApi("api", {
    handler: functions.api.fn,
    corsOrigins,
    throttle: settings.apiThrottle,
    logRetentionDays: settings.logRetentionDays,
    namePrefix: prefix,
    tags,
  });
  // The execute-api host is no secret to AWS, but a pull request's preview diff and job log are read
  // by its author: as a Pulumi secret it shows as [secret] there (the origin header keeps direct
  // callers out anyway; this keeps the address out of chats and tickets).
  resolveApiDomain(pulumi.secret(api.domain));

  const schedules = new JobSchedules("schedules", {
    workshops: live,
    jobsFunction: functions.jobs.fn,
    jobsRole: functions.jobs.role,
    now: inputs.now,
    accountId: inputs.accountId,
    rolePrefix: prefix,
    roleBoundaryArn: boundary,
    tags,
  });

  const monitoring = new Monitoring("monitoring", {
    workshops,
    functions: { api: functions.api.fn, jobs: functions.jobs.fn },
    api: { id: api.api.id, stage: api.stage.name },
    deadLetterQueueName: schedules.deadLetters.name,
    tableNames: [data.attendees.name, data.workshops.name],
    alertEmails: settings.alertEmails,
    organizerEmail: settings.sesEmail !== undefined,
    region: settings.region,
    namePrefix: prefix,
    tags,
  });

  const workshopsTable = TABLES.find((t) => t.logicalName === "workshops")!;
  const workshopsTableRef = { name: data.workshops.name, hashKey: workshopsTable.hashKey, rangeKey: workshopsTable.rangeKey! };
  const deployments = workshops.map(
    (w) =>
      new WorkshopDeployment(`workshop-${w.slug}`, {
        workshop: w,
        workshopsTable: workshopsTableRef,
        openrouterBaseUrl: settings.openrouterBaseUrl,
        keyNamespace: keyNamespaceFor(stack),
        governance: settings.governance,
        live: live.includes(w),
      }),
  );
  workshopIndexItem("workshop-index", { workshops, workshopsTable: workshopsTableRef });

  const apiUrl = pulumi.interpolate`${site.origin}/api`;
  new SiteConfigFile("site-config", {
    bucket: site.bucket,
    config: pulumi.all([apiUrl, auth.issuer, auth.clientId, auth.redirectUri, auth.logoutUri]).apply(
      ([apiUrlValue, issuer, clientId, redirectUri, logoutUri]) => ({
        apiUrl: apiUrlValue,
        mode: "cloud" as const,
        openrouterBaseUrl: settings.attendeeBaseUrl,
        auth: { issuer, clientId, redirectUri, scope: AUTH_SCOPE, logoutUri },
      }),
    ),
  });

  return {
    siteUrl: site.origin,
    apiUrl,
    // A secret output: `pulumi stack output --show-secrets apiEndpoint` for operators, [secret] in
    // every log, PR comment and step summary.
    apiEndpoint: pulumi.secret(api.endpoint),
    distributionDomain: site.distribution.domainName,
    distributionId: site.distribution.id,
    siteBucket: site.bucket.bucket,
    userPoolId: auth.userPool.id,
    authClientId: auth.clientId,
    authIssuer: auth.issuer,
    loginOrigin: auth.loginOrigin,
    managementKeySecretName: managementKey.name,
    attendeesTable: data.attendees.name,
    workshopsTable: data.workshops.name,
    apiFunction: functions.api.fn.name,
    jobsFunction: functions.jobs.fn.name,
    scheduleGroup: schedules.group.name,
    deadLetterQueueUrl: schedules.deadLetters.url,
    alertTopicArn: monitoring.topic.arn,
    dashboardName: monitoring.dashboard.dashboardName,
    guardrailIds: pulumi.all(Object.fromEntries(deployments.flatMap((d, i) => (d.guardrailId ? [[workshops[i].slug, d.guardrailId]] : [])))),
    workspaceIds: pulumi.all(Object.fromEntries(deployments.flatMap((d, i) => (d.workspace ? [[workshops[i].slug, d.workspace.workspaceId]] : [])))),
  };
}

/** The stack's key namespace: its name, lowercased to the allowed characters (derive.ts). */
export function keyNamespaceFor(stack: string): string {
  const ns = stack.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
  return ns || "stack";
}

/**
 * What the deployed pages may talk to besides their own origin: Cognito's token endpoints, and the
 * attendee base URL (the key page's "Test my key" calls it from the browser). The CloudFront header
 * and the page's own CSP meta (web/build.ts) both use exactly this.
 */
export function siteCspSources(settings: Pick<StackSettings, "authDomainPrefix" | "region" | "attendeeBaseUrl">): CspSources {
  const loginOrigin = managedLoginOrigin(settings.authDomainPrefix, settings.region);
  const attendeeOrigin = new URL(settings.attendeeBaseUrl).origin;
  return { connect: [`https://cognito-idp.${settings.region}.amazonaws.com`, loginOrigin, attendeeOrigin], formAction: [loginOrigin] };
}
