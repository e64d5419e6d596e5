import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT, asList, declareStack, statementsOf, type MockedProgram } from "../pulumi-mocks.js";
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
  type PolicyStatement,
} from "./documents.js";
import { setupCommands } from "./render.js";

/**
 * The committed IAM documents, read as data and judged by a small evaluator of IAM's rules (an
 * explicit Deny wins; otherwise some Allow must match the action, the resource and every
 * condition), against the resources the program declares under Pulumi's mocks.
 */

// ── a small IAM policy evaluator ──────────────────────────────────────────────────────────────
type Context = Record<string, string>;
type Decision = "Allow" | "Deny" | "ImplicitDeny";

/** IAM's wildcards: `*` any run of characters, `?` one character. */
function wildcard(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const source = `^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`;
  return new RegExp(source, caseInsensitive ? "i" : "").test(value);
}

function conditionHolds(condition: PolicyStatement["Condition"], context: Context): boolean {
  for (const [operator, entries] of Object.entries(condition ?? {})) {
    for (const [key, expected] of Object.entries(entries)) {
      const actual = context[key];
      if (actual === undefined) return false;
      const ok =
        operator === "StringEquals"
          ? asList(expected).includes(actual)
          : operator === "StringLike" || operator === "ArnLike"
            ? asList(expected).some((p) => wildcard(p, actual, false))
            : (() => {
                throw new Error(`the evaluator does not know the condition operator ${operator}`);
              })();
      if (!ok) return false;
    }
  }
  return true;
}

function matches(s: PolicyStatement, action: string, resource: string, context: Context): boolean {
  return (
    asList(s.Action).some((a) => wildcard(a, action, true)) &&
    asList(s.Resource ?? "*").some((r) => wildcard(r, resource, false)) &&
    conditionHolds(s.Condition, context)
  );
}

function decide(policy: PolicyDocument, action: string, resource: string, context: Context = {}): Decision {
  const hits = policy.Statement.filter((s) => matches(s, action, resource, context));
  if (hits.some((s) => s.Effect === "Deny")) return "Deny";
  return hits.some((s) => s.Effect === "Allow") ? "Allow" : "ImplicitDeny";
}

/** Who may assume a role: the trust policy's decision for a GitHub OIDC token. */
function mayAssume(trust: PolicyDocument, token: { sub: string; aud?: string; issuerAccount?: string }): boolean {
  const federated = `arn:aws:iam::${token.issuerAccount ?? ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`;
  return trust.Statement.some(
    (s) =>
      s.Effect === "Allow" &&
      (s.Principal as { Federated?: string }).Federated === federated &&
      asList(s.Action).includes("sts:AssumeRoleWithWebIdentity") &&
      conditionHolds(s.Condition, { "token.actions.githubusercontent.com:sub": token.sub, "token.actions.githubusercontent.com:aud": token.aud ?? "sts.amazonaws.com" }),
  );
}

describe("the evaluator", () => {
  it("follows IAM's rules: explicit deny wins, wildcards, conditions, nothing allowed by default", () => {
    const policy: PolicyDocument = {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: "s3:Get*", Resource: "arn:aws:s3:::b/*" },
        { Effect: "Deny", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/secret*" },
        { Effect: "Allow", Action: "iam:PassRole", Resource: "*", Condition: { StringEquals: { "iam:PassedToService": ["lambda.amazonaws.com"] } } },
      ],
    };
    expect(decide(policy, "s3:GetObject", "arn:aws:s3:::b/page")).toBe("Allow");
    expect(decide(policy, "S3:getobject", "arn:aws:s3:::b/page")).toBe("Allow");
    expect(decide(policy, "s3:GetObject", "arn:aws:s3:::b/secret.txt")).toBe("Deny");
    expect(decide(policy, "s3:PutObject", "arn:aws:s3:::b/page")).toBe("ImplicitDeny");
    expect(decide(policy, "s3:GetObject", "arn:aws:s3:::c/page")).toBe("ImplicitDeny");
    expect(decide(policy, "iam:PassRole", "r", { "iam:PassedToService": "lambda.amazonaws.com" })).toBe("Allow");
    expect(decide(policy, "iam:PassRole", "r", { "iam:PassedToService": "ec2.amazonaws.com" })).toBe("ImplicitDeny");
    expect(decide(policy, "iam:PassRole", "r")).toBe("ImplicitDeny");
  });
});

// ── the program's resources, under mocks ─────────────────────────────────────────────────────
const TARGET: IamTarget = { repository: "acme/workshop-keys", accountId: ACCOUNT, stack: "test" };
const PREFIX = resourcePrefix("test");
const doc = (name: (typeof IAM_DOCUMENTS)[number], target: IamTarget = TARGET) => renderIamDocument(name, target);

let program: MockedProgram;
const arnsOf = (type: string, field = "arn") => program.ofType(type).map((r) => r.state[field] as string);

beforeAll(async () => {
  ({ program } = await declareStack({
    "workshop-key-minter:adminEmails": JSON.stringify(["admin@example.org"]),
    "workshop-key-minter:googleClientId": "1234.apps.googleusercontent.com",
    "workshop-key-minter:googleClientSecret": "google-client-secret-for-tests",
    "workshop-key-minter:wafApiRateLimit": "3000",
  }));
});

describe("the committed documents", () => {
  it("are valid JSON whose placeholders the README explains and the renderer fills", () => {
    const readme = readFileSync(join(IAM_DIR, "..", "..", "README.md"), "utf8");
    for (const name of IAM_DOCUMENTS) {
      const text = iamTemplate(name);
      expect(() => JSON.parse(text), name).not.toThrow();
      const rendered = JSON.stringify(doc(name, { ...TARGET, stateBucket: "acme-pulumi-state" }));
      expect(rendered, name).not.toMatch(/\{\{[A-Z_]*\}\}/);
      expect(readme, `README names ${name}.json`).toContain(`infra/iam/${name}.json`);
    }
    expect(readme).toContain("npm run -s infra:iam --");
  });

  it("refuses a target it cannot fill in safely, naming each problem", () => {
    expect(() => renderIamDocument("deploy-policy", { repository: "no-slash", accountId: "12", stack: "prod x" })).toThrow(IamTemplateError);
    try {
      renderIamDocument("deploy-policy", { repository: 'a/b"}', accountId: "12", stack: "" });
    } catch (err) {
      expect((err as Error).message.split("\n")).toHaveLength(3);
    }
  });

  it("fit IAM's size limits (10,240 characters of inline policies per role, 6,144 per managed policy)", () => {
    const size = (d: PolicyDocument) => JSON.stringify(d).replace(/\s/g, "").length;
    const withBucket = { ...TARGET, stateBucket: "acme-pulumi-state" };
    expect(size(doc("deploy-policy", withBucket))).toBeLessThan(10_240);
    expect(size(doc("preview-policy", withBucket))).toBeLessThan(10_240);
    expect(size(doc("role-boundary"))).toBeLessThan(6_144);
  });

  it("mention the state bucket only when the stack uses an S3 backend", () => {
    expect(JSON.stringify(doc("deploy-policy"))).not.toContain("arn:aws:s3:::/");
    const withBucket = doc("deploy-policy", { ...TARGET, stateBucket: "acme-pulumi-state" });
    expect(decide(withBucket, "s3:PutObject", "arn:aws:s3:::acme-pulumi-state/.pulumi/stacks/test.json")).toBe("Allow");
    const preview = doc("preview-policy", { ...TARGET, stateBucket: "acme-pulumi-state" });
    expect(decide(preview, "s3:GetObject", "arn:aws:s3:::acme-pulumi-state/.pulumi/stacks/test.json")).toBe("Allow");
    expect(decide(preview, "s3:PutObject", "arn:aws:s3:::acme-pulumi-state/.pulumi/stacks/test.json")).toBe("ImplicitDeny");
  });
});

describe("who may assume the roles", () => {
  // A job that names an environment gets the environment subject, never `pull_request` or a ref.
  for (const [role, environment, other] of [
    ["preview", "preview", "production"],
    ["deploy", "production", "preview"],
  ] as const) {
    it(`lets only ${environment}-environment jobs of this repository assume the ${role} role`, () => {
      const trust = doc(`${role}-trust`);
      expect(mayAssume(trust, { sub: `repo:acme/workshop-keys:environment:${environment}` })).toBe(true);
      for (const sub of [
        "repo:acme/workshop-keys:pull_request",
        "repo:acme/workshop-keys:ref:refs/heads/main",
        `repo:acme/workshop-keys:environment:${other}`,
        `repo:someone/else:environment:${environment}`,
      ]) {
        expect(mayAssume(trust, { sub }), sub).toBe(false);
      }
      expect(mayAssume(trust, { sub: `repo:acme/workshop-keys:environment:${environment}`, aud: "https://example.org" })).toBe(false);
      expect(mayAssume(trust, { sub: `repo:acme/workshop-keys:environment:${environment}`, issuerAccount: "999999999999" })).toBe(false);
    });
  }
});

describe("the preview role", () => {
  const preview = () => doc("preview-policy");

  it("reads no attendee key: every DynamoDB data read on the stack's tables is explicitly denied", () => {
    const tables = arnsOf("aws:dynamodb/table:Table");
    expect(tables).toHaveLength(2);
    const reads = [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:PartiQLSelect",
      "dynamodb:ExecuteStatement",
      "dynamodb:BatchExecuteStatement",
      "dynamodb:ExportTableToPointInTime",
      "dynamodb:RestoreTableToPointInTime",
      "dynamodb:CreateBackup",
      "dynamodb:GetRecords",
    ];
    for (const table of tables) {
      for (const action of reads) expect(decide(preview(), action, table), `${action} ${table}`).toBe("Deny");
      expect(decide(preview(), "dynamodb:Query", `${table}/index/by-email`)).toBe("Deny");
    }
  });

  it("reads no secret value, no log line and no attendee's account", () => {
    const secret = program.one("aws:secretsmanager/secret:Secret").state.arn;
    expect(decide(preview(), "secretsmanager:GetSecretValue", secret)).toBe("Deny");
    expect(decide(preview(), "secretsmanager:BatchGetSecretValue", "*")).toBe("Deny");
    const logGroups = arnsOf("aws:cloudwatch/logGroup:LogGroup");
    expect(logGroups.length).toBeGreaterThanOrEqual(3);
    for (const group of logGroups) {
      for (const action of ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartQuery", "logs:GetQueryResults", "logs:StartLiveTail", "logs:GetLogRecord", "logs:Unmask"]) {
        expect(decide(preview(), action, group), `${action} ${group}`).toBe("Deny");
      }
    }
    const pool = program.one("aws:cognito/userPool:UserPool").state.arn;
    for (const action of ["cognito-idp:ListUsers", "cognito-idp:AdminGetUser", "cognito-idp:DescribeIdentityProvider"]) expect(decide(preview(), action, pool)).toBe("Deny");
  });

  it("changes nothing: every action it allows only reads configuration", () => {
    const allowed = preview()
      .Statement.filter((s) => s.Effect === "Allow")
      .flatMap((s) => asList(s.Action));
    expect(allowed.length).toBeGreaterThan(10);
    for (const action of allowed) expect(action, action).toMatch(/^[a-z0-9-]+:(Get|Describe|List)[A-Za-z]*$|^apigateway:GET$/);
  });

  it("can describe what the stack declares, for a refresh", () => {
    const table = arnsOf("aws:dynamodb/table:Table")[0];
    expect(decide(preview(), "dynamodb:DescribeTable", table)).toBe("Allow");
    expect(decide(preview(), "sts:GetCallerIdentity", "*")).toBe("Allow");
    for (const role of arnsOf("aws:iam/role:Role")) expect(decide(preview(), "iam:GetRole", role)).toBe("Allow");
    expect(decide(preview(), "iam:GetRole", `arn:aws:iam::${ACCOUNT}:role/AdminRole`)).toBe("ImplicitDeny");
  });
});

describe("the deploy role", () => {
  const deploy = () => doc("deploy-policy");
  const boundary = roleBoundaryArn(ACCOUNT, "test");
  const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

  it("creates and changes roles only under the stack's prefix, and only inside the permissions boundary", () => {
    const inside = role(`${PREFIX}api-20261201`);
    for (const action of ["iam:CreateRole", "iam:PutRolePolicy"]) {
      expect(decide(deploy(), action, inside, { "iam:PermissionsBoundary": boundary })).toBe("Allow");
      expect(decide(deploy(), action, inside)).toBe("ImplicitDeny");
      expect(decide(deploy(), action, inside, { "iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess" })).toBe("ImplicitDeny");
      for (const outside of ["AdminRole", "wkm-test-eu--api-1", "wkm-tes--api-1", "OrganizationAccountAccessRole"]) {
        expect(decide(deploy(), action, role(outside), { "iam:PermissionsBoundary": boundary }), outside).toBe("ImplicitDeny");
      }
    }
    expect(decide(deploy(), "iam:AttachRolePolicy", inside, { "iam:PermissionsBoundary": boundary })).toBe("ImplicitDeny");
    expect(decide(deploy(), "iam:DeleteRolePermissionsBoundary", inside)).toBe("Deny");
    expect(decide(deploy(), "iam:CreatePolicyVersion", boundary)).toBe("Deny");
    expect(decide(deploy(), "iam:CreateUser", `arn:aws:iam::${ACCOUNT}:user/x`)).toBe("ImplicitDeny");
  });

  it("cannot change its own role or the preview role", () => {
    for (const kind of ["deploy", "preview"] as const) {
      const own = role(ciRoleName(kind, "test"));
      for (const action of ["iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:AttachRolePolicy"]) {
        expect(decide(deploy(), action, own, { "iam:PermissionsBoundary": boundary }), `${action} ${kind}`).toBe("ImplicitDeny");
      }
    }
  });

  it("passes the stack's roles only to Lambda and EventBridge Scheduler", () => {
    const inside = role(`${PREFIX}jobs-20261201`);
    expect(decide(deploy(), "iam:PassRole", inside, { "iam:PassedToService": "lambda.amazonaws.com" })).toBe("Allow");
    expect(decide(deploy(), "iam:PassRole", inside, { "iam:PassedToService": "scheduler.amazonaws.com" })).toBe("Allow");
    expect(decide(deploy(), "iam:PassRole", inside, { "iam:PassedToService": "ec2.amazonaws.com" })).toBe("ImplicitDeny");
    expect(decide(deploy(), "iam:PassRole", role("AdminRole"), { "iam:PassedToService": "lambda.amazonaws.com" })).toBe("ImplicitDeny");
  });

  it("never reads or writes the OpenRouter key in Secrets Manager", () => {
    const secret = program.one("aws:secretsmanager/secret:Secret").state.arn;
    expect(decide(deploy(), "secretsmanager:CreateSecret", secret)).toBe("Allow");
    for (const action of ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]) expect(decide(deploy(), action, secret)).toBe("Deny");
    // Nor through a role of the stack, whose boundary allows that read: the deploy role may rewrite
    // those roles' trust policies (UpdateAssumeRolePolicy), and a trust policy naming the deploy
    // role would be enough to assume it within the account. Only an explicit deny stops that.
    for (const r of arnsOf("aws:iam/role:Role")) {
      for (const action of ["sts:AssumeRole", "sts:TagSession"]) expect(decide(deploy(), action, r), `${action} ${r}`).toBe("Deny");
    }
  });

  it("manages the stack's own functions, queue and schedules, and no one else's in the account", () => {
    // Changing another function's code or policy would run code as that function's role (any role
    // in the account), which the prefix and the boundary are there to rule out.
    const functions = arnsOf("aws:lambda/function:Function");
    expect(functions).toHaveLength(2);
    const writes = ["lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:AddPermission", "lambda:DeleteFunction", "lambda:PutFunctionEventInvokeConfig"];
    for (const fn of functions) for (const action of [...writes, "lambda:CreateFunction", "lambda:GetFunction"]) expect(decide(deploy(), action, fn), `${action} ${fn}`).toBe("Allow");
    const foreignFn = `arn:aws:lambda:eu-central-1:${ACCOUNT}:function:payroll-admin-tasks`;
    for (const action of writes) expect(decide(deploy(), action, foreignFn), action).toBe("ImplicitDeny");

    const queue = program.one("aws:sqs/queue:Queue").state.arn;
    expect(decide(deploy(), "sqs:CreateQueue", queue)).toBe("Allow");
    expect(decide(deploy(), "sqs:SetQueueAttributes", queue)).toBe("Allow");
    // A queue policy is a queue attribute: on another app's queue it could let anyone read it.
    expect(decide(deploy(), "sqs:SetQueueAttributes", `arn:aws:sqs:eu-central-1:${ACCOUNT}:orders`)).toBe("ImplicitDeny");

    const group = program.one("aws:scheduler/scheduleGroup:ScheduleGroup").state.arn;
    expect(decide(deploy(), "scheduler:CreateScheduleGroup", group)).toBe("Allow");
    const schedules = arnsOf("aws:scheduler/schedule:Schedule");
    expect(schedules.length).toBeGreaterThan(0);
    for (const s of schedules) expect(decide(deploy(), "scheduler:CreateSchedule", s), s).toBe("Allow");
    expect(decide(deploy(), "scheduler:DeleteSchedule", `arn:aws:scheduler:eu-central-1:${ACCOUNT}:schedule/default/nightly-billing`)).toBe("ImplicitDeny");
  });

  it("manages the site bucket of this stack only", () => {
    const bucket = program.one("aws:s3/bucket:Bucket").state.arn;
    expect(bucket.startsWith(`arn:aws:s3:::${PREFIX}`)).toBe(true);
    expect(decide(deploy(), "s3:CreateBucket", bucket)).toBe("Allow");
    expect(decide(deploy(), "s3:PutObject", `${bucket}/index.html`)).toBe("Allow");
    expect(decide(deploy(), "s3:GetObject", "arn:aws:s3:::company-payroll/2026.csv")).toBe("ImplicitDeny");
  });
});

describe("the roles the program creates", () => {
  const roles = () => program.ofType("aws:iam/role:Role");

  it("are named under the prefix the deploy policy allows, carry the boundary, and are passed only to their own service", () => {
    const deploy = doc("deploy-policy");
    const boundary = roleBoundaryArn(ACCOUNT, "test");
    expect(roles().length).toBeGreaterThanOrEqual(3);
    for (const r of roles()) {
      expect(r.inputs.namePrefix, r.name).toMatch(new RegExp(`^${PREFIX}[a-z]+-$`));
      expect(r.inputs.namePrefix.length, r.name).toBeLessThanOrEqual(38);
      expect(r.inputs.permissionsBoundary, r.name).toBe(boundary);
      expect(decide(deploy, "iam:CreateRole", r.state.arn, { "iam:PermissionsBoundary": boundary }), r.name).toBe("Allow");
      const trust = typeof r.inputs.assumeRolePolicy === "string" ? JSON.parse(r.inputs.assumeRolePolicy) : r.inputs.assumeRolePolicy;
      const service = trust.Statement[0].Principal.Service as string;
      expect(decide(deploy, "iam:PassRole", r.state.arn, { "iam:PassedToService": service }), `${r.name} to ${service}`).toBe("Allow");
    }
  });

  it("ask for nothing their permissions boundary would cut off", () => {
    const boundaryPolicy = doc("role-boundary");
    const policies = program.ofType("aws:iam/rolePolicy:RolePolicy");
    expect(policies.length).toBeGreaterThanOrEqual(3);
    for (const p of policies) {
      for (const s of statementsOf(p.inputs.policy)) {
        for (const action of asList(s.Action)) {
          for (const resource of asList(s.Resource)) expect(decide(boundaryPolicy, action, resource), `${p.name}: ${action} on ${resource}`).toBe("Allow");
        }
      }
    }
    // The boundary is what stops a role from becoming more than a function needs.
    expect(decide(boundaryPolicy, "iam:CreateUser", "*")).toBe("ImplicitDeny");
    expect(decide(boundaryPolicy, "lambda:InvokeFunction", `arn:aws:lambda:eu-central-1:${ACCOUNT}:function:payroll-admin-tasks`)).toBe("ImplicitDeny");
    expect(decide(boundaryPolicy, "sqs:SendMessage", `arn:aws:sqs:eu-central-1:${ACCOUNT}:orders`)).toBe("ImplicitDeny");
    expect(decide(boundaryPolicy, "secretsmanager:GetSecretValue", `arn:aws:secretsmanager:eu-central-1:${ACCOUNT}:secret:other-app/key`)).toBe("ImplicitDeny");
  });
});

describe("the setup commands", () => {
  it("create the boundary first, then each role from its own trust and policy file", () => {
    const commands = setupCommands(TARGET, "iam-rendered");
    expect(commands[0]).toMatch(new RegExp(`^aws iam create-policy --policy-name ${PREFIX}boundary .*file://iam-rendered/role-boundary.json$`));
    expect(commands.slice(1)).toEqual([
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
