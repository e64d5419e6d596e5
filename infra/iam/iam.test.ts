import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT, asList, declareStack, REGION, statementsOf, type MockedProgram, type RecordedResource } from "../pulumi-mocks.js";
import {
  ciRoleName,
  IAM_DIR,
  IAM_DOCUMENTS,
  iamTemplate,
  IamTemplateError,
  renderIamDocument,
  resourcePrefix,
  roleBoundaryArn,
  type IamTarget,
  type PolicyDocument,
} from "./documents.js";
import { oidcSubjectCustomization, setupCommands } from "./render.js";
import { decide, unknownActions, type Principal, type SimulatedRequest } from "./simulator.js";

/**
 * The committed IAM documents, judged by AWS's evaluation logic (`@cloud-copilot/iam-simulate`,
 * infra/iam/simulator.ts) against the resources the program declares under Pulumi's mocks: every
 * call the AWS provider makes for them must be allowed, and what must never be allowed is denied.
 */

const TARGET: IamTarget = { repository: "acme/workshop-keys", accountId: ACCOUNT, stack: "test", stateBucket: "acme-pulumi-state" };
const PREFIX = resourcePrefix("test");
const BOUNDARY = roleBoundaryArn(ACCOUNT, "test");
const doc = (name: (typeof IAM_DOCUMENTS)[number], target: IamTarget = TARGET) => renderIamDocument(name, target);
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const deployRole = (): Principal => ({ arn: roleArn(ciRoleName("deploy", "test")), accountId: ACCOUNT, policies: [doc("deploy-policy")] });
const previewRole = (): Principal => ({ arn: roleArn(ciRoleName("preview", "test")), accountId: ACCOUNT, policies: [doc("preview-policy")] });

let program: MockedProgram;

beforeAll(async () => {
  // Every optional part on (Google sign-in, SES, the WAF), so every resource type is declared.
  ({ program } = await declareStack({
    "workshop-key-minter:adminEmails": JSON.stringify(["admin@example.org"]),
    "workshop-key-minter:googleClientId": "1234.apps.googleusercontent.com",
    "workshop-key-minter:googleClientSecret": "google-client-secret-for-tests",
    "workshop-key-minter:wafApiRateLimit": "3000",
  }));
}, 60_000);

// ── what the AWS provider asks AWS for, per resource type ───────────────────────────────────────
type Call = SimulatedRequest;

const byId = (id: string) => {
  const found = program.resources.find((r) => r.id === id);
  if (!found) throw new Error(`no declared resource has the id ${id}`);
  return found;
};
const tagsOf = (r: RecordedResource): Record<string, string> => r.inputs.tags ?? {};
/** A create that tags: the request's tags as AWS sees them. */
const creating = (r: RecordedResource) => ({
  ...Object.fromEntries(Object.entries(tagsOf(r)).map(([k, v]) => [`aws:RequestTag/${k}`, v])),
  "aws:TagKeys": Object.keys(tagsOf(r)),
});
/** A call on a tagged resource: its tags as AWS sees them. */
const tagged = (r: RecordedResource) => Object.fromEntries(Object.entries(tagsOf(r)).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
const calls = (actions: string[], resource: string, context?: Call["context"]): Call[] => actions.map((action) => ({ action, resource, context }));
const apiArn = (apiId: string, path = "") => `arn:aws:apigateway:${REGION}::/apis/${apiId}${path}`;
const cloudfrontArn = (kind: string, id: string) => `arn:aws:cloudfront::${ACCOUNT}:${kind}/${id}`;
const userPoolOf = (r: RecordedResource) => byId(r.inputs.userPoolId);
const userPoolCalls = (r: RecordedResource, actions: string[]) => calls(actions, userPoolOf(r).state.arn, tagged(userPoolOf(r)));
const bucketOf = (r: RecordedResource) => byId(r.inputs.bucket).state.arn as string;
const tableArnNamed = (name: string) => program.ofType("aws:dynamodb/table:Table").find((t) => t.state.name === name)!.state.arn as string;
/** CloudFront's policies and access controls: created on "*" (no name to scope), then by id. */
const cloudfrontPolicyCalls = (kind: string, arnKind: string) => (r: RecordedResource) => [
  ...calls([`cloudfront:Create${kind}`], "*"),
  ...calls([`cloudfront:Get${kind}`, `cloudfront:Update${kind}`, `cloudfront:Delete${kind}`], cloudfrontArn(arnKind, r.id)),
];
const passRole = (role: string, service: string): Call => ({ action: "iam:PassRole", resource: role, context: { "iam:PassedToService": service } });
const withBoundary = { "iam:PermissionsBoundary": BOUNDARY };

/**
 * Create, read, update, tag and delete calls the AWS provider makes for each resource type (the
 * Terraform AWS provider's documented permissions for the resource). A type the program declares
 * but this table does not know fails the test: a new resource type needs its calls listed here.
 */
const PROVIDER_CALLS: Record<string, ((r: RecordedResource) => Call[]) | "no AWS call"> = {
  "aws:dynamodb/table:Table": (r) =>
    calls(
      [
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:UpdateTable",
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:DescribeTimeToLive",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:DescribeKinesisStreamingDestination",
        "dynamodb:ListTagsOfResource",
        "dynamodb:TagResource",
        "dynamodb:UntagResource",
        "dynamodb:GetResourcePolicy",
        "dynamodb:DeleteTable",
      ],
      r.state.arn,
    ),
  "aws:dynamodb/tableItem:TableItem": (r) =>
    calls(["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], tableArnNamed(r.inputs.tableName), {
      "dynamodb:LeadingKeys": [JSON.parse(r.inputs.item)[r.inputs.hashKey].S],
    }),
  "aws:secretsmanager/secret:Secret": (r) => [
    ...calls(["secretsmanager:CreateSecret"], r.state.arn, creating(r)),
    ...calls(
      ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "secretsmanager:UpdateSecret", "secretsmanager:TagResource", "secretsmanager:UntagResource", "secretsmanager:DeleteSecret"],
      r.state.arn,
      tagged(r),
    ),
  ],
  "aws:secretsmanager/secretVersion:SecretVersion": (r) =>
    calls(["secretsmanager:PutSecretValue", "secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds", "secretsmanager:UpdateSecretVersionStage"], byId(r.inputs.secretId).state.arn),
  "aws:cloudwatch/logGroup:LogGroup": (r) => [
    ...calls(["logs:CreateLogGroup"], r.state.arn, creating(r)),
    ...calls(["logs:PutRetentionPolicy", "logs:ListTagsForResource", "logs:TagResource", "logs:UntagResource", "logs:DeleteLogGroup"], r.state.arn),
    ...calls(["logs:DescribeLogGroups"], "*"),
  ],
  "aws:iam/role:Role": (r) => [
    ...calls(["iam:CreateRole", "iam:PutRolePermissionsBoundary"], r.state.arn, withBoundary),
    ...calls(["iam:GetRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:DeleteRole"], r.state.arn),
  ],
  "aws:iam/rolePolicy:RolePolicy": (r) => [
    ...calls(["iam:PutRolePolicy"], byId(r.inputs.role).state.arn, withBoundary),
    ...calls(["iam:GetRolePolicy", "iam:DeleteRolePolicy"], byId(r.inputs.role).state.arn),
  ],
  "aws:lambda/function:Function": (r) => [
    ...calls(
      [
        "lambda:CreateFunction",
        "lambda:GetFunction",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:GetRuntimeManagementConfig",
        "lambda:ListVersionsByFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:TagResource",
        "lambda:UntagResource",
        "lambda:ListTags",
        "lambda:DeleteFunction",
      ],
      r.state.arn,
    ),
    passRole(r.inputs.role, "lambda.amazonaws.com"),
  ],
  "aws:lambda/permission:Permission": (r) =>
    calls(["lambda:AddPermission", "lambda:GetPolicy", "lambda:RemovePermission"], program.ofType("aws:lambda/function:Function").find((f) => f.state.name === r.inputs.function)!.state.arn),
  "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (r) =>
    calls(
      ["lambda:PutFunctionEventInvokeConfig", "lambda:GetFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig", "lambda:DeleteFunctionEventInvokeConfig"],
      program.ofType("aws:lambda/function:Function").find((f) => f.state.name === r.inputs.functionName)!.state.arn,
    ),
  "aws:apigatewayv2/api:Api": (r) => [
    ...calls(["apigateway:POST"], `arn:aws:apigateway:${REGION}::/apis`, creating(r)),
    ...calls(["apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"], apiArn(r.id)),
    ...calls(["apigateway:POST", "apigateway:GET", "apigateway:DELETE"], `arn:aws:apigateway:${REGION}::/tags/${encodeURIComponent(apiArn(r.id))}`),
  ],
  "aws:apigatewayv2/stage:Stage": (r) => [
    ...calls(["apigateway:POST"], apiArn(r.inputs.apiId, "/stages")),
    ...calls(["apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"], apiArn(r.inputs.apiId, `/stages/${r.inputs.name}`)),
    // Access logs to CloudWatch: API Gateway's log delivery and, on a fresh account, its service-linked role.
    ...calls(["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies"], "*"),
    {
      action: "iam:CreateServiceLinkedRole",
      resource: roleArn("aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway"),
      context: { "iam:AWSServiceName": "ops.apigateway.amazonaws.com" },
    },
  ],
  "aws:apigatewayv2/integration:Integration": (r) => [
    ...calls(["apigateway:POST"], apiArn(r.inputs.apiId, "/integrations")),
    ...calls(["apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"], apiArn(r.inputs.apiId, `/integrations/${r.id}`)),
  ],
  "aws:apigatewayv2/route:Route": (r) => [
    ...calls(["apigateway:POST"], apiArn(r.inputs.apiId, "/routes")),
    ...calls(["apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"], apiArn(r.inputs.apiId, `/routes/${r.id}`)),
  ],
  "aws:s3/bucket:Bucket": (r) => calls(["s3:CreateBucket", "s3:ListBucket", "s3:GetBucketTagging", "s3:PutBucketTagging", "s3:GetBucketPolicy", "s3:DeleteBucket"], r.state.arn),
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (r) => calls(["s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock"], bucketOf(r)),
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (r) => calls(["s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls"], bucketOf(r)),
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (r) =>
    calls(["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"], bucketOf(r)),
  "aws:s3/bucketPolicy:BucketPolicy": (r) => calls(["s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"], bucketOf(r)),
  "aws:s3/bucketObjectv2:BucketObjectv2": (r) => calls(["s3:PutObject", "s3:GetObject", "s3:GetObjectTagging", "s3:DeleteObject"], `${bucketOf(r)}/${r.inputs.key}`),
  "aws:cloudfront/distribution:Distribution": (r) => [
    ...calls(["cloudfront:CreateDistribution", "cloudfront:TagResource"], r.state.arn, creating(r)),
    ...calls(
      ["cloudfront:GetDistribution", "cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution", "cloudfront:ListTagsForResource", "cloudfront:UntagResource", "cloudfront:DeleteDistribution"],
      r.state.arn,
      tagged(r),
    ),
    ...(r.inputs.webAclId ? calls(["wafv2:GetWebACL"], r.inputs.webAclId) : []),
  ],
  "aws:cloudfront/function:Function": (r) => [
    // CreateFunction is authorized on "*" only (Service Authorization Reference).
    ...calls(["cloudfront:CreateFunction"], "*"),
    ...calls(["cloudfront:DescribeFunction", "cloudfront:GetFunction", "cloudfront:UpdateFunction", "cloudfront:PublishFunction", "cloudfront:DeleteFunction"], r.state.arn),
  ],
  "aws:cloudfront/cachePolicy:CachePolicy": cloudfrontPolicyCalls("CachePolicy", "cache-policy"),
  "aws:cloudfront/originRequestPolicy:OriginRequestPolicy": cloudfrontPolicyCalls("OriginRequestPolicy", "origin-request-policy"),
  "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": cloudfrontPolicyCalls("ResponseHeadersPolicy", "response-headers-policy"),
  "aws:cloudfront/originAccessControl:OriginAccessControl": cloudfrontPolicyCalls("OriginAccessControl", "origin-access-control"),
  "aws:wafv2/webAcl:WebAcl": (r) => calls(["wafv2:CreateWebACL", "wafv2:GetWebACL", "wafv2:UpdateWebACL", "wafv2:ListTagsForResource", "wafv2:TagResource", "wafv2:DeleteWebACL"], r.state.arn),
  "aws:sqs/queue:Queue": (r) =>
    calls(["sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags", "sqs:TagQueue", "sqs:UntagQueue", "sqs:DeleteQueue"], r.state.arn),
  "aws:scheduler/scheduleGroup:ScheduleGroup": (r) =>
    calls(["scheduler:CreateScheduleGroup", "scheduler:GetScheduleGroup", "scheduler:ListTagsForResource", "scheduler:TagResource", "scheduler:DeleteScheduleGroup"], r.state.arn),
  "aws:scheduler/schedule:Schedule": (r) => [
    ...calls(["scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"], r.state.arn),
    passRole(r.inputs.target.roleArn, "scheduler.amazonaws.com"),
  ],
  "aws:cognito/userPool:UserPool": (r) => [
    ...calls(["cognito-idp:CreateUserPool"], "*", creating(r)),
    ...calls(
      ["cognito-idp:DescribeUserPool", "cognito-idp:UpdateUserPool", "cognito-idp:GetUserPoolMfaConfig", "cognito-idp:SetUserPoolMfaConfig", "cognito-idp:ListTagsForResource", "cognito-idp:TagResource", "cognito-idp:UntagResource", "cognito-idp:DeleteUserPool"],
      r.state.arn,
      tagged(r),
    ),
    ...(r.inputs.emailConfiguration?.emailSendingAccount === "DEVELOPER"
      ? [{ action: "iam:CreateServiceLinkedRole", resource: roleArn("aws-service-role/email.cognito-idp.amazonaws.com/AWSServiceRoleForAmazonCognitoIdpEmailService"), context: { "iam:AWSServiceName": "email.cognito-idp.amazonaws.com" } }]
      : []),
  ],
  "aws:cognito/userPoolDomain:UserPoolDomain": (r) =>
    userPoolCalls(r, ["cognito-idp:CreateUserPoolDomain", "cognito-idp:DescribeUserPoolDomain", "cognito-idp:UpdateUserPoolDomain", "cognito-idp:DeleteUserPoolDomain"]),
  "aws:cognito/userPoolClient:UserPoolClient": (r) =>
    userPoolCalls(r, ["cognito-idp:CreateUserPoolClient", "cognito-idp:DescribeUserPoolClient", "cognito-idp:UpdateUserPoolClient", "cognito-idp:DeleteUserPoolClient"]),
  "aws:cognito/identityProvider:IdentityProvider": (r) =>
    userPoolCalls(r, ["cognito-idp:CreateIdentityProvider", "cognito-idp:DescribeIdentityProvider", "cognito-idp:UpdateIdentityProvider", "cognito-idp:DeleteIdentityProvider"]),
  "aws:cognito/managedLoginBranding:ManagedLoginBranding": (r) =>
    userPoolCalls(r, ["cognito-idp:CreateManagedLoginBranding", "cognito-idp:DescribeManagedLoginBranding", "cognito-idp:UpdateManagedLoginBranding", "cognito-idp:DeleteManagedLoginBranding"]),
  "aws:cognito/userGroup:UserGroup": (r) => userPoolCalls(r, ["cognito-idp:CreateGroup", "cognito-idp:GetGroup", "cognito-idp:UpdateGroup", "cognito-idp:DeleteGroup"]),
  // Accounts are kept when their address leaves the list (retainOnDelete): no AdminDeleteUser.
  "aws:cognito/user:User": (r) => userPoolCalls(r, ["cognito-idp:AdminCreateUser", "cognito-idp:AdminGetUser", "cognito-idp:AdminUpdateUserAttributes"]),
  "aws:cognito/userInGroup:UserInGroup": (r) =>
    userPoolCalls(r, ["cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminListGroupsForUser", "cognito-idp:AdminRemoveUserFromGroup"]),
  "aws:sns/topic:Topic": (r) =>
    calls(["sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListTagsForResource", "sns:TagResource", "sns:UntagResource", "sns:DeleteTopic"], r.state.arn),
  "aws:sns/topicSubscription:TopicSubscription": (r) => [
    ...calls(["sns:Subscribe"], r.inputs.topic),
    ...calls(["sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes", "sns:Unsubscribe"], r.state.arn),
  ],
  "aws:cloudwatch/metricAlarm:MetricAlarm": (r) =>
    calls(["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:DeleteAlarms"], r.state.arn),
  "aws:cloudwatch/dashboard:Dashboard": (r) => calls(["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"], r.state.dashboardArn),
  "random:index/randomPassword:RandomPassword": "no AWS call",
  "pulumi-nodejs:dynamic/openrouter:Guardrail": "no AWS call",
  "pulumi:providers:aws": "no AWS call",
};

function providerCalls(r: RecordedResource): Call[] {
  if (r.type.startsWith("wkm:")) return []; // components: no resource of their own
  const entry = PROVIDER_CALLS[r.type];
  if (!entry) throw new Error(`${r.type} (${r.name}): list the AWS calls its provider makes in PROVIDER_CALLS`);
  return entry === "no AWS call" ? [] : entry(r);
}

/**
 * HTTP API (API Gateway v2) paths the Service Authorization Reference does not attach to the
 * apigateway verbs (it lists the REST API types for GET/POST/…; tagging an HTTP API is a POST on
 * /tags, which it lists for PUT only): the simulator refuses them as "no.resource.types". They are collected, not judged,
 * and the test that meets them says which they are; every other call is judged.
 */
const notJudged = new Set<string>();
const V2_PATH_WITHOUT_SAR_TYPE = /^arn:aws:apigateway:[^:]+::\/(apis|tags)(\/.*)?$/;

/** Runs every request and returns those whose decision is not the expected one, as readable lines. */
async function mismatches(principal: Principal, requests: Call[], expected: "Allowed" | "Denied"): Promise<string[]> {
  const wrong: string[] = [];
  for (const request of requests) {
    let decision: string;
    try {
      decision = await decide(principal, request);
    } catch (err) {
      if (!(String(err).includes("no.resource.types") && request.action.startsWith("apigateway:") && V2_PATH_WITHOUT_SAR_TYPE.test(request.resource))) throw err;
      notJudged.add(`${request.action} ${request.resource}`);
      continue;
    }
    const ok = expected === "Allowed" ? decision === "Allowed" : decision !== "Allowed";
    if (!ok) wrong.push(`${decision}: ${request.action} on ${request.resource} ${JSON.stringify(request.context ?? {})}`);
  }
  return wrong;
}

// ── the documents ───────────────────────────────────────────────────────────────────────────────
describe("the committed documents", () => {
  it("are valid JSON whose placeholders the deploy guide explains and the renderer fills", () => {
    const readme = readFileSync(join(IAM_DIR, "..", "..", "docs", "deploy.md"), "utf8");
    for (const name of IAM_DOCUMENTS) {
      const text = iamTemplate(name);
      expect(() => JSON.parse(text), name).not.toThrow();
      expect(JSON.stringify(doc(name)), name).not.toMatch(/\{\{[A-Z_]*\}\}/);
      expect(readme, `docs/deploy.md names ${name}.json`).toContain(`infra/iam/${name}.json`);
    }
    expect(readme).toContain("npm run -s infra:iam --");
  });

  it("refuses a target it cannot fill in safely, naming each problem", () => {
    expect(() => renderIamDocument("deploy-policy", { repository: "no-slash", accountId: "12", stack: "prod x" })).toThrow(IamTemplateError);
    const error = (() => {
      try {
        renderIamDocument("deploy-policy", { repository: 'a/b"}', accountId: "12", stack: "" });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(error?.message.split("\n")).toHaveLength(3);
  });

  it("fit IAM's size limits (10,240 characters of inline policies per role, 6,144 per managed policy)", () => {
    const size = (d: PolicyDocument) => JSON.stringify(d).replace(/\s/g, "").length;
    expect(size(doc("deploy-policy"))).toBeLessThan(10_240);
    expect(size(doc("preview-policy"))).toBeLessThan(10_240);
    expect(size(doc("role-boundary"))).toBeLessThan(6_144);
  });

  it("name only actions that exist: every action of every document and of every role policy the program declares, wildcards standing for at least one", async () => {
    for (const name of IAM_DOCUMENTS) {
      if (name.endsWith("-trust")) continue;
      expect(await unknownActions(doc(name).Statement), name).toEqual([]);
    }
    const declared = program.ofType("aws:iam/rolePolicy:RolePolicy");
    expect(declared.length).toBeGreaterThanOrEqual(3);
    for (const p of declared) expect(await unknownActions(statementsOf(p.inputs.policy)), p.name).toEqual([]);
    // The judge itself: a made-up action and an empty wildcard are caught.
    expect(await unknownActions([{ Effect: "Allow", Action: ["apigateway:TagResource", "dynamodb:ExecuteStatement", "logs:GetLogObject", "s3:Nothing*", "sts:GetCallerIdentity"] }])).toEqual([
      "apigateway:TagResource does not exist",
      "dynamodb:ExecuteStatement does not exist",
      "logs:GetLogObject does not exist",
      "s3:Nothing* stands for no action of s3",
    ]);
  });

  it("mention the state bucket only when the stack uses an S3 backend", async () => {
    const withoutBucket = { ...TARGET, stateBucket: undefined };
    expect(JSON.stringify(doc("deploy-policy", withoutBucket))).not.toContain("arn:aws:s3:::/");
    const object = "arn:aws:s3:::acme-pulumi-state/.pulumi/stacks/workshop-key-minter/test.json";
    expect(await decide(deployRole(), { action: "s3:PutObject", resource: object })).toBe("Allowed");
    expect(await decide(previewRole(), { action: "s3:GetObject", resource: object })).toBe("Allowed");
    // Previews take no lock and write nothing: PR code cannot change the state.
    expect(await decide(previewRole(), { action: "s3:PutObject", resource: object })).toBe("ImplicitlyDenied");
    expect(await decide(previewRole(), { action: "s3:DeleteObject", resource: object })).toBe("ImplicitlyDenied");
  });
});

// ── who may assume the two roles ────────────────────────────────────────────────────────────────
describe("who may assume the roles", () => {
  const GITHUB = `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
  const claim = (k: string) => `token.actions.githubusercontent.com:${k}`;
  /**
   * GitHub's token as STS sees it. The Service Authorization Reference lists GitHub's own claims
   * (repository, environment, job_workflow_ref) as condition keys, and the simulator judges those;
   * it does not list the OIDC `sub` and `aud` keys, so those two conditions are taken out for the
   * simulation and checked below as data: the exact subject GitHub issues once the repository's
   * subject is customised (render.ts `oidcSubjectCustomization`).
   */
  const assume = async (role: "deploy" | "preview", token: { repository: string; environment?: string; workflowRef: string }, provider = GITHUB) => {
    const trust = doc(`${role}-trust`);
    for (const s of trust.Statement) {
      for (const entries of Object.values(s.Condition ?? {})) {
        delete entries[claim("sub")];
        delete entries[claim("aud")];
      }
    }
    return decide(
      { arn: provider, accountId: ACCOUNT, policies: [] },
      {
        action: "sts:AssumeRoleWithWebIdentity",
        resource: roleArn(ciRoleName(role, "test")),
        context: {
          [claim("repository")]: token.repository,
          [claim("job_workflow_ref")]: token.workflowRef,
          ...(token.environment ? { [claim("environment")]: token.environment } : {}),
        },
      },
      trust,
    );
  };
  const deployOnMain = { repository: "acme/workshop-keys", environment: "production", workflowRef: "acme/workshop-keys/.github/workflows/deploy.yml@refs/heads/main" };

  it("lets only the deploy workflow on main, in the production environment, assume the deploy role", async () => {
    expect(await assume("deploy", deployOnMain)).toBe("Allowed");
    const borrowers = [
      // A pull request that adds `environment: production` to its own pr.yml.
      { ...deployOnMain, workflowRef: "acme/workshop-keys/.github/workflows/pr.yml@refs/pull/7/merge" },
      // deploy.yml edited and run on another branch.
      { ...deployOnMain, workflowRef: "acme/workshop-keys/.github/workflows/deploy.yml@refs/heads/feature" },
      // Another workflow on main.
      { ...deployOnMain, workflowRef: "acme/workshop-keys/.github/workflows/other.yml@refs/heads/main" },
      { ...deployOnMain, environment: "preview" },
      { repository: "acme/workshop-keys", workflowRef: deployOnMain.workflowRef },
      { ...deployOnMain, repository: "someone/else", workflowRef: "someone/else/.github/workflows/deploy.yml@refs/heads/main" },
    ];
    for (const token of borrowers) expect(await assume("deploy", token), JSON.stringify(token)).not.toBe("Allowed");
    expect(await assume("deploy", deployOnMain, `arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com`)).not.toBe("Allowed");
  });

  it("lets pull-request preview jobs of this repository assume the preview role, and nothing else", async () => {
    const preview = { repository: "acme/workshop-keys", environment: "preview", workflowRef: "acme/workshop-keys/.github/workflows/pr.yml@refs/pull/42/merge" };
    expect(await assume("preview", preview)).toBe("Allowed");
    for (const token of [{ ...preview, environment: "production" }, { ...preview, workflowRef: deployOnMain.workflowRef }, { ...preview, repository: "someone/else" }]) {
      expect(await assume("preview", token), JSON.stringify(token)).not.toBe("Allowed");
    }
  });

  it("ask for the audience and the customised subject GitHub issues for exactly those jobs", () => {
    const conditions = (role: "deploy" | "preview") => Object.assign({}, ...Object.values(doc(`${role}-trust`).Statement[0].Condition ?? {}));
    expect(oidcSubjectCustomization.include_claim_keys).toEqual(["repo", "context", "job_workflow_ref"]);
    expect(conditions("deploy")).toMatchObject({
      [claim("aud")]: "sts.amazonaws.com",
      [claim("sub")]: "repo:acme/workshop-keys:environment:production:job_workflow_ref:acme/workshop-keys/.github/workflows/deploy.yml@refs/heads/main",
    });
    expect(doc("deploy-trust").Statement[0].Condition?.StringEquals?.[claim("sub")]).toBeDefined();
    expect(conditions("preview")).toMatchObject({
      [claim("aud")]: "sts.amazonaws.com",
      [claim("sub")]: "repo:acme/workshop-keys:environment:preview:job_workflow_ref:acme/workshop-keys/.github/workflows/pr.yml@refs/pull/*/merge",
    });
  });
});

// ── the deploy role ─────────────────────────────────────────────────────────────────────────────
describe("the deploy role", () => {
  it("may make every call the AWS provider makes for every resource the program declares", async () => {
    const requests = program.resources.flatMap(providerCalls);
    expect(requests.length).toBeGreaterThan(200);
    expect(new Set(program.resources.map((r) => r.type)).size).toBeGreaterThan(30);
    expect(await mismatches(deployRole(), requests, "Allowed")).toEqual([]);
    expect(await decide(deployRole(), { action: "sts:GetCallerIdentity", resource: "*" })).toBe("Allowed");
    // What the simulator could not type: only the HTTP API's own paths, a handful of the calls.
    expect([...notJudged].every((c) => /^apigateway:(GET|POST|PATCH|DELETE) arn:aws:apigateway:eu-central-1::\/(apis|tags)(\/|$)/.test(c)), [...notJudged].join("\n")).toBe(true);
    expect(notJudged.size).toBeLessThan(requests.length / 10);
  }, 120_000);

  it("reads no claim, key, profile or room-code secret: its item rights stop at the deploy's own partition", async () => {
    const workshops = tableArnNamed(`${PREFIX}workshops`);
    const attendees = tableArnNamed(`${PREFIX}attendees`);
    // A workshop's own partition holds its claims (with their keys), email locks and consents; a
    // sharded workshop's claims and locks are in `<slug>#<hex>` partitions (functions/data/tables.ts).
    const slug = JSON.parse(program.ofType("aws:dynamodb/tableItem:TableItem").find((i) => i.name.startsWith("workshop-") && i.name.endsWith("-item"))!.inputs.item).config.M.slug.S as string;
    const denied: Call[] = [
      ...calls(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], workshops, { "dynamodb:LeadingKeys": [slug] }),
      ...calls(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], workshops, { "dynamodb:LeadingKeys": [`${slug}#0`] }),
      ...calls(["dynamodb:GetItem", "dynamodb:PutItem"], workshops, { "dynamodb:LeadingKeys": ["#deployment"] }),
      ...calls(["dynamodb:GetItem", "dynamodb:BatchGetItem"], workshops, { "dynamodb:LeadingKeys": ["#catalog", slug] }),
      ...calls(["dynamodb:GetItem", "dynamodb:PutItem"], attendees, { "dynamodb:LeadingKeys": ["#catalog"] }),
      ...calls(["dynamodb:GetItem"], workshops),
      ...calls(["dynamodb:Query", "dynamodb:Scan", "dynamodb:PartiQLSelect", "dynamodb:ExportTableToPointInTime", "dynamodb:CreateBackup", "dynamodb:RestoreTableToPointInTime"], workshops),
      ...calls(["dynamodb:Query", "dynamodb:Scan"], attendees),
    ];
    expect(await mismatches(deployRole(), denied, "Denied")).toEqual([]);
  }, 60_000);

  it("touches no table, log group, distribution, web ACL, function, queue, bucket or pool outside the stack", async () => {
    const other = {
      table: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/orders`,
      otherStack: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/wkm-test-eu--workshops`,
      logs: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/payroll`,
      distribution: `arn:aws:cloudfront::${ACCOUNT}:distribution/EOTHERAPP`,
      webAcl: `arn:aws:wafv2:us-east-1:${ACCOUNT}:global/webacl/corporate/1234`,
      fn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:payroll-admin-tasks`,
      queue: `arn:aws:sqs:${REGION}:${ACCOUNT}:orders`,
      bucket: "arn:aws:s3:::company-payroll",
      pool: `arn:aws:cognito-idp:${REGION}:${ACCOUNT}:userpool/${REGION}_Staff`,
      cfFunction: `arn:aws:cloudfront::${ACCOUNT}:function/corporate-redirects`,
      schedule: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/nightly-billing`,
    };
    const foreignPool = { "aws:ResourceTag/stack": "prod" };
    const denied: Call[] = [
      ...calls(["dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:UpdateContinuousBackups", "dynamodb:UpdateTimeToLive", "dynamodb:PutItem"], other.table),
      ...calls(["dynamodb:DeleteTable", "dynamodb:UpdateContinuousBackups"], other.otherStack),
      ...calls(["logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:TagResource"], other.logs),
      ...calls(["cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution", "cloudfront:GetDistributionConfig", "cloudfront:UntagResource"], other.distribution),
      ...calls(["cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution", "cloudfront:TagResource"], other.distribution, { "aws:ResourceTag/stack": "prod" }),
      ...calls(["cloudfront:UpdateFunction", "cloudfront:DeleteFunction"], other.cfFunction),
      ...calls(["wafv2:DeleteWebACL", "wafv2:UpdateWebACL"], other.webAcl),
      ...calls(["lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:AddPermission", "lambda:DeleteFunction"], other.fn),
      // A queue policy is a queue attribute: on another app's queue it could let anyone read it.
      ...calls(["sqs:SetQueueAttributes", "sqs:DeleteQueue"], other.queue),
      ...calls(["s3:PutBucketPolicy", "s3:DeleteBucket"], other.bucket),
      ...calls(["s3:GetObject"], `${other.bucket}/2026.csv`),
      ...calls(["scheduler:DeleteSchedule", "scheduler:UpdateSchedule"], other.schedule),
      // Cognito on every pool let it set attendees' passwords and join `admins`: only the stack's pool now.
      ...calls(["cognito-idp:AdminCreateUser", "cognito-idp:AdminAddUserToGroup", "cognito-idp:UpdateUserPool", "cognito-idp:DeleteUserPool", "cognito-idp:TagResource"], other.pool),
      ...calls(["cognito-idp:AdminCreateUser", "cognito-idp:AdminAddUserToGroup", "cognito-idp:UpdateUserPoolClient"], other.pool, foreignPool),
      ...calls(["cognito-idp:CreateUserPool"], "*", { "aws:RequestTag/stack": "prod", "aws:TagKeys": ["stack"] }),
      ...calls(["cloudfront:CreateDistribution"], "*"),
    ];
    expect(await mismatches(deployRole(), denied, "Denied")).toEqual([]);
  }, 60_000);

  it("never acts for attendees on the stack's own pool: no password set or reset, no sign-in, no user list", async () => {
    const pool = program.one("aws:cognito/userPool:UserPool");
    const denied = calls(
      ["cognito-idp:AdminSetUserPassword", "cognito-idp:AdminResetUserPassword", "cognito-idp:AdminInitiateAuth", "cognito-idp:AdminRespondToAuthChallenge", "cognito-idp:ListUsers", "cognito-idp:AdminDeleteUser"],
      pool.state.arn,
      tagged(pool),
    );
    expect(await mismatches(deployRole(), denied, "Denied")).toEqual([]);
  });

  it("creates and changes roles only under the stack's prefix, inside the boundary, and never rewrites a trust policy", async () => {
    const inside = roleArn(`${PREFIX}api-20261201`);
    const denied: Call[] = [
      ...calls(["iam:CreateRole", "iam:PutRolePolicy"], inside),
      ...calls(["iam:CreateRole", "iam:PutRolePolicy"], inside, { "iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess" }),
      ...["AdminRole", "wkm-test-eu--api-1", "wkm-tes--api-1", "OrganizationAccountAccessRole"].flatMap((name) => calls(["iam:CreateRole", "iam:PutRolePolicy"], roleArn(name), withBoundary)),
      ...calls(["iam:AttachRolePolicy"], inside, withBoundary),
      // Pinning a trust policy by condition is impossible (no IAM condition reads its content): dropped.
      ...calls(["iam:UpdateAssumeRolePolicy", "iam:DeleteRolePermissionsBoundary"], inside),
      ...calls(["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"], BOUNDARY),
      ...calls(["iam:CreateUser"], `arn:aws:iam::${ACCOUNT}:user/x`),
      // Its own role and the preview role are outside the prefix.
      ...(["deploy", "preview"] as const).flatMap((kind) => calls(["iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:AttachRolePolicy"], roleArn(ciRoleName(kind, "test")), withBoundary)),
      // The stack's roles are passed to their own services only, and never assumed by the deploy role.
      passRole(inside, "ec2.amazonaws.com"),
      passRole(roleArn("AdminRole"), "lambda.amazonaws.com"),
      ...program.ofType("aws:iam/role:Role").flatMap((r) => calls(["sts:AssumeRole", "sts:TagSession"], r.state.arn)),
    ];
    expect(await mismatches(deployRole(), denied, "Denied")).toEqual([]);
    // The roles the program creates are exactly the ones it may create.
    for (const r of program.ofType("aws:iam/role:Role")) {
      expect(r.inputs.permissionsBoundary, r.name).toBe(BOUNDARY);
      expect(r.inputs.namePrefix, r.name).toMatch(new RegExp(`^${PREFIX}[a-z]+-$`));
      expect(r.inputs.namePrefix.length, r.name).toBeLessThanOrEqual(38);
    }
  });

  it("creates only the service-linked roles the stack needs", async () => {
    const slr = (service: string): Call => ({ action: "iam:CreateServiceLinkedRole", resource: roleArn(`aws-service-role/${service}/AWSServiceRoleFor${service}`), context: { "iam:AWSServiceName": service } });
    expect(await decide(deployRole(), slr("ops.apigateway.amazonaws.com"))).toBe("Allowed");
    expect(await decide(deployRole(), slr("email.cognito-idp.amazonaws.com"))).toBe("Allowed");
    expect(await mismatches(deployRole(), [slr("elasticbeanstalk.amazonaws.com"), slr("ecs.amazonaws.com")], "Denied")).toEqual([]);
  });

  it("reads the management key (its one copy, for the guardrail provider) but never writes it, nor reads another stack's secrets", async () => {
    // Made by hand in the one-time setup; AWS appends six random characters to its name.
    const key = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:workshop-key-minter/test/openrouter-management-key-Xy12Zw`;
    expect(await decide(deployRole(), { action: "secretsmanager:GetSecretValue", resource: key })).toBe("Allowed");
    const denied: Call[] = [
      ...calls(["secretsmanager:PutSecretValue"], key),
      ...calls(["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"], `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:workshop-key-minter/prod/openrouter-management-key-AbCdEf`),
      ...calls(["secretsmanager:GetSecretValue"], `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:payroll/db-password-AbCdEf`),
    ];
    expect(await mismatches(deployRole(), denied, "Denied")).toEqual([]);
  });
});

// ── the preview role ────────────────────────────────────────────────────────────────────────────
describe("the preview role", () => {
  it("reads almost nothing: previews run without refresh, so it needs who-am-I and the state, no describe of any resource", async () => {
    const allowed = doc("preview-policy")
      .Statement.filter((s) => s.Effect === "Allow")
      .flatMap((s) => asList(s.Action));
    expect(allowed.sort()).toEqual(["s3:GetObject", "s3:ListBucket", "sts:GetCallerIdentity"]);
    // Not one of the calls the provider would make for the stack's resources, reads included.
    const everyCall = program.resources.flatMap(providerCalls);
    expect(await mismatches(previewRole(), everyCall, "Denied")).toEqual([]);
  }, 120_000);

  it("cannot read what used to leak: the API's environment, the origin header, client secrets, API keys, data and logs", async () => {
    const fn = program.one("aws:lambda/function:Function", "functions-api").state.arn;
    const distribution = program.one("aws:cloudfront/distribution:Distribution").state.arn;
    const pool = program.one("aws:cognito/userPool:UserPool").state.arn;
    const api = program.one("aws:apigatewayv2/api:Api").id;
    const denied: Call[] = [
      ...calls(["lambda:GetFunctionConfiguration", "lambda:GetFunction"], fn),
      ...calls(["cloudfront:GetDistributionConfig", "cloudfront:GetDistribution"], distribution),
      ...calls(["cognito-idp:DescribeUserPoolClient", "cognito-idp:DescribeIdentityProvider", "cognito-idp:ListUsers", "cognito-idp:AdminGetUser"], pool),
      ...calls(["apigateway:GET"], apiArn(api, "/stages")),
      ...calls(["apigateway:GET"], `arn:aws:apigateway:${REGION}::/apikeys/abc`),
      ...calls(["apigateway:GET"], `arn:aws:apigateway:${REGION}::/restapis/other-app`),
      ...program.ofType("aws:dynamodb/table:Table").flatMap((t) => calls(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PartiQLSelect", "dynamodb:ExportTableToPointInTime", "dynamodb:DescribeTable"], t.state.arn)),
      ...program.ofType("aws:secretsmanager/secret:Secret").flatMap((s) => calls(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], s.state.arn)),
      ...program.ofType("aws:cloudwatch/logGroup:LogGroup").flatMap((g) => calls(["logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:StartLiveTail", "logs:Unmask"], g.state.arn)),
    ];
    expect(await mismatches(previewRole(), denied, "Denied")).toEqual([]);
  }, 60_000);
});

// ── the roles the program creates ───────────────────────────────────────────────────────────────
describe("the roles the program creates", () => {
  const stackRole = (r: RecordedResource, policy: string): Principal => ({
    arn: byId(r.inputs.role).state.arn,
    accountId: ACCOUNT,
    policies: [JSON.parse(policy) as PolicyDocument],
    boundary: doc("role-boundary"),
  });

  it("may do everything their policies ask for, within the permissions boundary", async () => {
    const policies = program.ofType("aws:iam/rolePolicy:RolePolicy");
    expect(policies.length).toBeGreaterThanOrEqual(3);
    for (const p of policies) {
      // A pattern's `?` (the secret's random suffix) stands for one character of a real ARN.
      const requests = statementsOf(p.inputs.policy).flatMap((s) => asList(s.Action).flatMap((action) => asList(s.Resource).map((resource) => ({ action, resource: resource.replace(/\?/g, "x") }))));
      expect(await mismatches(stackRole(p, p.inputs.policy), requests, "Allowed"), p.name).toEqual([]);
    }
  }, 60_000);

  it("get nothing the boundary leaves out, whatever policy the deploy role writes for them", async () => {
    const anything = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] });
    const role = stackRole(program.ofType("aws:iam/rolePolicy:RolePolicy")[0], anything);
    const denied: Call[] = [
      ...calls(["iam:CreateUser"], `arn:aws:iam::${ACCOUNT}:user/x`),
      ...calls(["lambda:InvokeFunction"], `arn:aws:lambda:${REGION}:${ACCOUNT}:function:payroll-admin-tasks`),
      ...calls(["sqs:SendMessage"], `arn:aws:sqs:${REGION}:${ACCOUNT}:orders`),
      ...calls(["secretsmanager:GetSecretValue"], `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:other-app/key-AbCdEf`),
      // Tables of other stacks and apps: the boundary names the stack's prefix, not table/*.
      ...calls(["dynamodb:GetItem", "dynamodb:Scan"], `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/orders`),
      ...calls(["dynamodb:GetItem"], `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/wkm-prod--workshops`),
      ...calls(["logs:PutLogEvents"], `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/payroll:*`),
      ...calls(["s3:GetObject"], "arn:aws:s3:::company-payroll/2026.csv"),
    ];
    expect(await mismatches(role, denied, "Denied")).toEqual([]);
  }, 60_000);
});

describe("the setup commands", () => {
  it("customise the OIDC subject first, keep production to main, then create the boundary and each role from its own files", () => {
    const commands = setupCommands(TARGET, "iam-rendered");
    expect(commands[0]).toContain("repos/acme/workshop-keys/actions/oidc/customization/sub");
    expect(commands[0]).toContain(JSON.stringify(oidcSubjectCustomization));
    expect(commands.slice(1, 3).join("\n")).toMatch(/repos\/acme\/workshop-keys\/environments\/production[\s\S]*deployment-branch-policies/);
    const aws = commands.filter((c) => c.startsWith("aws "));
    expect(aws[0]).toMatch(new RegExp(`^aws iam create-policy --policy-name ${PREFIX}boundary .*file://iam-rendered/role-boundary.json$`));
    expect(aws.slice(1)).toEqual([
      expect.stringMatching(/^aws iam create-role --role-name github-deploy-wkm-test --assume-role-policy-document file:\/\/iam-rendered\/deploy-trust.json$/),
      expect.stringMatching(/^aws iam put-role-policy --role-name github-deploy-wkm-test .*file:\/\/iam-rendered\/deploy-policy.json$/),
      expect.stringMatching(/^aws iam create-role --role-name github-preview-wkm-test --assume-role-policy-document file:\/\/iam-rendered\/preview-trust.json$/),
      expect.stringMatching(/^aws iam put-role-policy --role-name github-preview-wkm-test .*file:\/\/iam-rendered\/preview-policy.json$/),
    ]);
  });

  it("name a stack's resources apart from every other stack's", () => {
    expect(resourcePrefix("prod")).toBe("wkm-prod--");
    expect(resourcePrefix("Prod_EU 2")).toBe("wkm-prod-eu-2--");
    // One stack's pattern never covers another's names.
    expect(`${resourcePrefix("prod-eu")}api-x`.startsWith(resourcePrefix("prod"))).toBe(false);
    expect(resourcePrefix("a-very-long-stack-name-for-a-conference").length).toBeLessThanOrEqual(26);
  });
});
