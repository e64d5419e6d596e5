import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ORIGIN_VERIFY_SECRET_ARN_ENV } from "../functions/api/origin-verify.js";
import type { GovernanceMode } from "../workshops/derive.js";
import { ADMIN_GROUP } from "./auth.js";
import { bundleFunction, LAMBDA_HANDLER, type BundledFunction } from "./bundle.js";

export const LAMBDA_RUNTIME = "nodejs22.x";

type TableName = "attendees" | "workshops";

interface FunctionSpec {
  entry: string;
  description: string;
  memorySize: number;
  timeoutSeconds: number;
  /** DynamoDB actions per table; each is granted on that table's ARN only. */
  tableActions: Record<TableName, string[]>;
  /** Mints or syncs keys, so it reads the OpenRouter management key. */
  readsManagementKey: boolean;
  /** Verifies attendee tokens. */
  needsAuth: boolean;
  /** Serves requests CloudFront forwards, and only those (the origin-verify secret). */
  behindCloudFront: boolean;
}

/**
 * Who may do what, in one table. The API mints keys (claims) and serves organizers; the jobs open,
 * close, sync and expire. Both talk to OpenRouter, so both read the management key; nothing else
 * in the stack can.
 */
export const FUNCTION_SPECS: Record<"api" | "jobs", FunctionSpec> = {
  api: {
    entry: "functions/api/handler.ts",
    description: "Workshop Key Minter HTTP API (Hono): catalog, profile, claims, organizer dashboard",
    memorySize: 512,
    // The HTTP API gives up after 30 s; a claim's OpenRouter calls have their own shorter budget.
    timeoutSeconds: 29,
    tableActions: {
      attendees: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem"],
      workshops: [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
      ],
    },
    readsManagementKey: true,
    needsAuth: true,
    behindCloudFront: true,
  },
  jobs: {
    entry: "functions/jobs/handler.ts",
    description: "Workshop Key Minter scheduled jobs: open, close, sync usage, expire keys",
    memorySize: 512,
    timeoutSeconds: 300,
    tableActions: {
      // The jobs touch claims, ledgers and workshop items only (functions/jobs, functions/data/housekeeping.ts).
      attendees: [],
      workshops: [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
      ],
    },
    readsManagementKey: true,
    needsAuth: false,
    behindCloudFront: false,
  },
};

export interface TableRef {
  name: pulumi.Input<string>;
  arn: pulumi.Input<string>;
}

export interface MinterFunctionsArgs {
  tables: Record<TableName, TableRef>;
  /**
   * The management key's secret: its name (OPENROUTER_SECRET_ARN; Secrets Manager takes a name or an
   * ARN) and its ARN as an IAM pattern (the six characters Secrets Manager appends are unknown here).
   */
  managementKeySecret: { name: string; arnPattern: string };
  auth: { issuer: pulumi.Input<string>; clientId: pulumi.Input<string>; jwksUri: pulumi.Input<string> };
  openrouterBaseUrl: string;
  /** The stack's `governance` setting, read by both Lambdas as OPENROUTER_GOVERNANCE. */
  governance: GovernanceMode;
  attendeeBaseUrl: string;
  logRetentionDays: number;
  /** ATTENDEE_RETENTION_DAYS for the API (profiles and consents expire that long after their last write). */
  attendeeRetentionDays: number;
  /** Browser origins the API answers CORS for (CORS_ALLOWED_ORIGINS); same-origin needs none. */
  corsOrigins: string[];
  /** The Secrets Manager secret holding the value CloudFront sends in its origin-verify header. */
  originVerifySecretArn: pulumi.Input<string>;
  /**
   * Roles are named `<rolePrefix><function>-…` and the functions `<rolePrefix><function>`: the only
   * names the deploy role may create or change (infra/iam).
   */
  rolePrefix: string;
  /** The permissions boundary every role must carry (infra/iam/role-boundary.json). */
  roleBoundaryArn: string;
  /** Builds a deployment package; the default runs esbuild. Tests pass their own. */
  bundle?: (entry: string, name: string) => Promise<BundledFunction>;
  tags?: Record<string, string>;
}

/** A deployed function and what the rest of the stack refers to. */
export interface DeployedFunction {
  fn: aws.lambda.Function;
  role: aws.iam.Role;
  logGroup: aws.cloudwatch.LogGroup;
}

/**
 * The two Lambda functions. Each gets its own role whose policy names the exact table and secret
 * ARNs it needs, its own log group with a retention, and an esbuild bundle of its entry point.
 */
export class MinterFunctions extends pulumi.ComponentResource {
  readonly api: DeployedFunction;
  readonly jobs: DeployedFunction;

  constructor(name: string, args: MinterFunctionsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:functions:MinterFunctions", name, {}, opts);
    const bundle = args.bundle ?? ((entry: string, fnName: string) => bundleFunction(entry, { name: fnName }));
    this.api = this.createFunction(`${name}-api`, "api", FUNCTION_SPECS.api, args, bundle);
    this.jobs = this.createFunction(`${name}-jobs`, "jobs", FUNCTION_SPECS.jobs, args, bundle);
    this.registerOutputs({ apiFunction: this.api.fn.name, jobsFunction: this.jobs.fn.name });
  }

  private createFunction(
    name: string,
    shortName: string,
    spec: FunctionSpec,
    args: MinterFunctionsArgs,
    bundle: (entry: string, name: string) => Promise<BundledFunction>,
  ): DeployedFunction {
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      // Under the stack's prefix: the only log groups the deploy role may delete or change (infra/iam).
      { name: `${args.rolePrefix}${shortName}`, retentionInDays: args.logRetentionDays, tags: args.tags },
      { parent: this },
    );
    const role = new aws.iam.Role(
      `${name}-role`,
      {
        namePrefix: `${args.rolePrefix}${shortName}-`,
        permissionsBoundary: args.roleBoundaryArn,
        description: `Runs the ${shortName} function of the Workshop Key Minter`,
        assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "lambda.amazonaws.com" }),
        tags: args.tags,
      },
      // The deploy role may not rewrite a trust policy (iam:UpdateAssumeRolePolicy is denied, infra/iam):
      // a changed one means a new role (namePrefix: the new one is created before the old one goes).
      { parent: this, replaceOnChanges: ["assumeRolePolicy"] },
    );
    new aws.iam.RolePolicy(
      `${name}-access`,
      { role: role.id, policy: this.accessPolicy(spec, args, logGroup) },
      { parent: this },
    );
    const code = pulumi.output(bundle(spec.entry, shortName)).apply((b) => new pulumi.asset.FileArchive(b.outdir));
    const fn = new aws.lambda.Function(
      name,
      {
        // Under the stack's prefix: the only functions the deploy role may change (infra/iam).
        name: `${args.rolePrefix}${shortName}`,
        description: spec.description,
        runtime: LAMBDA_RUNTIME,
        architectures: ["arm64"],
        handler: LAMBDA_HANDLER,
        code,
        role: role.arn,
        memorySize: spec.memorySize,
        timeout: spec.timeoutSeconds,
        loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
        environment: { variables: this.environment(spec, args) },
        tags: args.tags,
      },
      { parent: this },
    );
    return { fn, role, logGroup };
  }

  private environment(spec: FunctionSpec, args: MinterFunctionsArgs): Record<string, pulumi.Input<string>> {
    return {
      ATTENDEES_TABLE: args.tables.attendees.name,
      WORKSHOPS_TABLE: args.tables.workshops.name,
      OPENROUTER_BASE_URL: args.openrouterBaseUrl,
      OPENROUTER_GOVERNANCE: args.governance,
      ATTENDEE_BASE_URL: args.attendeeBaseUrl,
      ...(spec.readsManagementKey ? { OPENROUTER_SECRET_ARN: args.managementKeySecret.name } : {}),
      ...(spec.needsAuth
        ? { AUTH_ISSUER: args.auth.issuer, AUTH_CLIENT_ID: args.auth.clientId, AUTH_JWKS_URI: args.auth.jwksUri, ADMIN_GROUP }
        : {}),
      ...(spec.needsAuth && args.corsOrigins.length > 0 ? { CORS_ALLOWED_ORIGINS: args.corsOrigins.join(",") } : {}),
      ...(spec.needsAuth ? { ATTENDEE_RETENTION_DAYS: String(args.attendeeRetentionDays) } : {}),
      ...(spec.behindCloudFront ? { [ORIGIN_VERIFY_SECRET_ARN_ENV]: args.originVerifySecretArn } : {}),
    };
  }

  /** Concrete ARNs only: the two tables, this function's log group, and the secrets it reads. */
  private accessPolicy(spec: FunctionSpec, args: MinterFunctionsArgs, logGroup: aws.cloudwatch.LogGroup): pulumi.Output<string> {
    return pulumi
      .all([args.tables.attendees.arn, args.tables.workshops.arn, args.managementKeySecret.arnPattern, args.originVerifySecretArn, logGroup.arn])
      .apply(([attendeesArn, workshopsArn, secretArn, originVerifyArn, logGroupArn]) => {
        const tableArn: Record<TableName, string> = { attendees: attendeesArn, workshops: workshopsArn };
        const statements: object[] = (Object.keys(spec.tableActions) as TableName[])
          .filter((t) => spec.tableActions[t].length > 0)
          .map((t) => ({ Sid: `Table${t[0].toUpperCase()}${t.slice(1)}`, Effect: "Allow", Action: spec.tableActions[t], Resource: [tableArn[t]] }));
        statements.push({
          Sid: "Logs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: [`${logGroupArn.replace(/:\*$/, "")}:*`],
        });
        if (spec.readsManagementKey) {
          statements.push({ Sid: "ManagementKey", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [secretArn] });
        }
        if (spec.behindCloudFront) {
          statements.push({ Sid: "OriginVerify", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: [originVerifyArn] });
        }
        return JSON.stringify({ Version: "2012-10-17", Statement: statements });
      });
  }
}
