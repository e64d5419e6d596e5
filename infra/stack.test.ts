import { beforeAll, describe, expect, it } from "vitest";
import { TABLES } from "../functions/data/tables.js";
import { workshopTimetable } from "../functions/domain/timetable.js";
import { effectiveCapacity, guardrailSpec, keyExpiresAt } from "../workshops/derive.js";
import type { Workshop } from "../workshops/schema.js";
import {
  ACCOUNT,
  asList,
  declareStack,
  isSecretInput,
  revealed,
  statementsOf,
  type MockedProgram,
  type RecordedResource,
} from "./pulumi-mocks.js";
import { defaultAuthDomainPrefix } from "./settings.js";

/**
 * The program as `pulumi preview` would declare it, under Pulumi's mocks, with the real workshop
 * files. Mocks stand in for AWS and the Pulumi engine (there is no account here); the assertions
 * are about what the program asks AWS for.
 */

const T = {
  table: "aws:dynamodb/table:Table",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  role: "aws:iam/role:Role",
  fn: "aws:lambda/function:Function",
  schedule: "aws:scheduler/schedule:Schedule",
  guardrail: "pulumi-nodejs:dynamic/openrouter:Guardrail",
  bucket: "aws:s3/bucket:Bucket",
  publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  object: "aws:s3/bucketObjectv2:BucketObjectv2",
  distribution: "aws:cloudfront/distribution:Distribution",
  oac: "aws:cloudfront/originAccessControl:OriginAccessControl",
  headers: "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
  cfFunction: "aws:cloudfront/function:Function",
  tableItem: "aws:dynamodb/tableItem:TableItem",
  secret: "aws:secretsmanager/secret:Secret",
  userPool: "aws:cognito/userPool:UserPool",
  client: "aws:cognito/userPoolClient:UserPoolClient",
  group: "aws:cognito/userGroup:UserGroup",
  user: "aws:cognito/user:User",
  idp: "aws:cognito/identityProvider:IdentityProvider",
  api: "aws:apigatewayv2/api:Api",
  route: "aws:apigatewayv2/route:Route",
  integration: "aws:apigatewayv2/integration:Integration",
  stage: "aws:apigatewayv2/stage:Stage",
  permission: "aws:lambda/permission:Permission",
  queue: "aws:sqs/queue:Queue",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
};

// The stack is "test" under the mocks; its login domain is unique to the account and the stack.
const LOGIN_PREFIX = defaultAuthDomainPrefix("test", ACCOUNT);
// Never printed, never stored: if it shows up in any recorded input, the program leaked it.
const SENTINEL_KEY = "sk-or-v1-infra-test-sentinel-management-key";

let program: MockedProgram;
let workshops: Workshop[];
let outputs: Record<string, unknown>;

beforeAll(async () => {
  process.env.OPENROUTER_MANAGEMENT_KEY = SENTINEL_KEY;
  ({ program, workshops, outputs } = await declareStack({
    "workshop-key-minter:adminEmails": JSON.stringify(["Admin@Example.org"]),
    // The repository's workshop hands out more keys than Cognito's own sender has emails a day.
    "workshop-key-minter:sesFromEmail": "keys@example.org",
    "workshop-key-minter:sesIdentityArn": `arn:aws:ses:eu-central-1:${ACCOUNT}:identity/example.org`,
  }));
  delete process.env.OPENROUTER_MANAGEMENT_KEY;
});

const byName = (type: string, suffix: string): RecordedResource => {
  const found = program.ofType(type).filter((r) => r.name.endsWith(suffix));
  expect(found, `${type} ending in ${suffix}`).toHaveLength(1);
  return found[0];
};

describe("workshops", () => {
  it("declares one guardrail per workshop file, with the workshop's allowlist", () => {
    expect(workshops.length).toBeGreaterThan(0);
    const guardrails = program.ofType(T.guardrail);
    expect(guardrails).toHaveLength(workshops.length);
    for (const w of workshops) {
      const g = byName(T.guardrail, `workshop-${w.slug}-guardrail`);
      // The stack's name ("test" under the mocks) keeps its guardrail apart from other deployments'.
      const spec = guardrailSpec(w, "test");
      expect(spec.name).toBe(`workshop-${w.slug}--test`);
      expect(g.inputs).toMatchObject({
        name: spec.name,
        allowedModels: w.openrouter.models.map((m) => m.id),
        limitUsd: spec.limit_usd,
        resetInterval: spec.reset_interval,
        baseUrl: "https://openrouter.ai/api/v1",
      });
    }
  });

  it("keeps the management key out of the serialized provider and every input", () => {
    for (const r of program.resources) expect(JSON.stringify(r.inputs)).not.toContain(SENTINEL_KEY);
    const provider = program.ofType(T.guardrail)[0].inputs.__provider as string;
    expect(provider).toContain("exports.handler");
  });

  it("writes the workshop item the functions read: config, guardrail id and the stack's key namespace", () => {
    for (const w of workshops) {
      const item = byName(T.tableItem, `workshop-${w.slug}-item`);
      expect(item.inputs).toMatchObject({ hashKey: "pk", rangeKey: "sk" });
      const stored = JSON.parse(item.inputs.item as string);
      // Under the deploy's own partition, apart from the claims (functions/data/tables.ts).
      expect(stored.pk).toEqual({ S: "#catalog" });
      expect(stored.sk).toEqual({ S: `CONFIG#${w.slug}` });
      expect(stored.guardrail_id).toEqual({ S: `gr-workshop-${w.slug}-guardrail` });
      expect(stored.key_namespace).toEqual({ S: "test" });
      expect(stored.config.M.slug).toEqual({ S: w.slug });
      expect(stored.config.M.openrouter.M.budget_usd).toEqual({ N: String(w.openrouter.budget_usd) });
      expect(stored.config.M.openrouter.M.models.L).toHaveLength(w.openrouter.models.length);
    }
    expect(outputs.guardrailIds).toEqual(Object.fromEntries(workshops.map((w) => [w.slug, `gr-workshop-${w.slug}-guardrail`])));
  });

  it("writes an item the functions' store reads back as the same workshop (through the local DynamoDB)", async () => {
    const { PutItemCommand } = await import("@aws-sdk/client-dynamodb");
    const { startLocalDynamo, ensureTables } = await import("../local/dynamo.js");
    const { createStore } = await import("../functions/data/store.js");
    const dynamo = await startLocalDynamo();
    try {
      const tableNames = { attendees: "infra-test-attendees", workshops: "infra-test-workshops" };
      await ensureTables(dynamo.client, tableNames);
      for (const item of program.ofType(T.tableItem)) {
        // What the TableItem resource sends: a PutItem of the low-level JSON.
        await dynamo.client.send(new PutItemCommand({ TableName: tableNames.workshops, Item: JSON.parse(item.inputs.item) }));
      }
      const store = createStore({ client: dynamo.client, tableNames });
      for (const w of workshops) {
        const record = await store.getWorkshop(w.slug);
        expect(record?.config).toEqual(w);
        expect(record?.guardrail_id).toBe(`gr-workshop-${w.slug}-guardrail`);
        expect(record?.key_namespace).toBe("test");
      }
      // The workshop index the API lists workshops from, instead of scanning the table.
      const catalog = await store.getCatalog();
      expect(catalog.invalid).toEqual([]);
      expect(catalog.entries.map((e) => e.slug).sort()).toEqual(workshops.map((w) => w.slug).sort());
      for (const w of workshops) {
        expect(catalog.entries.find((e) => e.slug === w.slug)).toEqual({
          slug: w.slug,
          starts_at: w.starts_at,
          claims_open_at: w.claims_open_at,
          claims_close_at: w.claims_close_at,
          is_active: w.is_active,
          organizers: w.organizers,
          key_expires_at: keyExpiresAt(w),
        });
      }
    } finally {
      await dynamo.close();
    }
  });
});

describe("schedules", () => {
  it("schedules open, close, expire once per workshop and one sync tick every 5 minutes, at the timetable's UTC times", () => {
    const jobs = program.one(T.fn, "functions-jobs");
    const queue = program.one(T.queue);
    const schedules = program.ofType(T.schedule);
    expect(schedules).toHaveLength(3 * workshops.length + 1);
    for (const w of workshops) {
      const t = workshopTimetable(w);
      const mine = schedules.filter((s) => JSON.parse(s.inputs.target.input).slug === w.slug);
      const byJob = Object.fromEntries(mine.map((s) => [JSON.parse(s.inputs.target.input).job, s.inputs]));
      expect(Object.keys(byJob).sort()).toEqual(["close", "expire", "open"]);
      for (const one of t.oneOff) {
        expect(byJob[one.job].scheduleExpression).toBe(`at(${one.at.slice(0, 19)})`);
        expect(byJob[one.job].scheduleExpressionTimezone).toBe("UTC");
      }
    }
    const ticks = schedules.filter((s) => JSON.parse(s.inputs.target.input).job === "tick");
    expect(ticks).toHaveLength(1);
    const windows = workshops.map((w) => workshopTimetable(w).sync);
    expect(ticks[0]!.inputs).toMatchObject({
      name: "sync-tick",
      scheduleExpression: "rate(5 minutes)",
      startDate: windows.map((s) => s.from).sort()[0],
      endDate: windows.map((s) => s.until).sort().at(-1),
    });
    expect(JSON.parse(ticks[0]!.inputs.target.input)).toEqual({ job: "tick" });
    for (const s of schedules) {
      expect(s.inputs.target.arn).toBe(jobs.state.arn);
      expect(s.inputs.target.deadLetterConfig.arn).toBe(queue.state.arn);
      expect(s.inputs.target.retryPolicy.maximumRetryAttempts).toBeGreaterThan(0);
      expect(s.inputs.flexibleTimeWindow).toEqual({ mode: "OFF" });
    }
  });

  it("puts the origin post's workshop at the instants its YAML means", () => {
    const mine = program.ofType(T.schedule).filter((s) => s.inputs.name.startsWith("pyconde-2026-darmstadt-sql-agents-"));
    const expr = Object.fromEntries(mine.map((s) => [s.inputs.name.split("-").pop(), s.inputs]));
    // claims_open_at 2026-04-13T18:00+02:00, claims_close_at 15:00+02:00, ends_at 14:45+02:00 + 30 min.
    expect(expr.open.scheduleExpression).toBe("at(2026-04-13T16:00:00)");
    expect(expr.close.scheduleExpression).toBe("at(2026-04-14T13:00:00)");
    expect(expr.expire.scheduleExpression).toBe("at(2026-04-14T13:15:00)");
    // Its sync window (open 16:00Z .. expiry + 1 h = 14:15Z the next day) lies within the tick's.
    expect(workshopTimetable(workshops.find((w) => w.slug === "pyconde-2026-darmstadt-sql-agents")!).sync).toMatchObject({ from: "2026-04-13T16:00:00Z", until: "2026-04-14T14:15:00Z" });
  });

  it("lets the scheduler invoke only the jobs function and write only to its dead-letter queue", () => {
    const jobs = program.one(T.fn, "functions-jobs");
    const queue = program.one(T.queue);
    const policy = statementsOf(byName(T.rolePolicy, "schedules-invoker-access").inputs.policy);
    expect(policy.flatMap((s) => asList(s.Action)).sort()).toEqual(["lambda:InvokeFunction", "sqs:SendMessage"]);
    expect(policy.find((s) => asList(s.Action).includes("lambda:InvokeFunction"))!.Resource).toEqual([jobs.state.arn, `${jobs.state.arn}:*`]);
    expect(policy.find((s) => asList(s.Action).includes("sqs:SendMessage"))!.Resource).toEqual([queue.state.arn]);
    const trust = JSON.parse(byName(T.role, "schedules-invoker").inputs.assumeRolePolicy);
    expect(trust.Statement[0].Principal).toEqual({ Service: "scheduler.amazonaws.com" });
    expect(trust.Statement[0].Condition.StringEquals["aws:SourceAccount"]).toBe(ACCOUNT);
  });
});

describe("failed job runs", () => {
  it("land in the dead-letter queue after Lambda's own retries, and only the jobs role may send them there", () => {
    const jobs = program.one(T.fn, "functions-jobs");
    const queue = program.one(T.queue);
    const invokeConfig = program.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs;
    expect(invokeConfig).toMatchObject({ functionName: jobs.state.name, destinationConfig: { onFailure: { destination: queue.state.arn } } });
    const policy = program.one(T.rolePolicy, "schedules-jobs-failures");
    expect(policy.inputs.role).toBe(byName(T.role, "functions-jobs-role").id);
    expect(statementsOf(policy.inputs.policy)).toEqual([expect.objectContaining({ Action: ["sqs:SendMessage"], Resource: [queue.state.arn] })]);
  });
});

describe("data", () => {
  it("declares the tables of TABLES with PITR, deletion protection, encryption and the ttl backstop", () => {
    const tables = program.ofType(T.table);
    expect(tables).toHaveLength(TABLES.length);
    for (const def of TABLES) {
      const t = byName(T.table, `data-${def.logicalName}`);
      expect(t.inputs).toMatchObject({
        billingMode: "PAY_PER_REQUEST",
        hashKey: def.hashKey,
        pointInTimeRecovery: { enabled: true },
        deletionProtectionEnabled: true,
        serverSideEncryption: { enabled: true },
        ttl: { attributeName: def.ttlAttribute, enabled: true },
      });
      expect(t.inputs.rangeKey).toBe(def.rangeKey);
    }
  });
});

describe("functions and permissions", () => {
  // Created with its value in the one-time setup, named by the program (infra/secrets.ts).
  const managementKeySecret = () => ({ name: "workshop-key-minter/test/openrouter-management-key", arn: `arn:aws:secretsmanager:eu-central-1:${ACCOUNT}:secret:workshop-key-minter/test/openrouter-management-key-??????` });
  const tableArns = () => program.ofType(T.table).map((t) => t.state.arn as string);

  it("runs both functions on nodejs22.x with the environment they read at cold start", () => {
    const [api, jobs] = [program.one(T.fn, "functions-api"), program.one(T.fn, "functions-jobs")];
    const secret = managementKeySecret();
    const pool = program.one(T.userPool);
    const client = program.one(T.client);
    const attendees = byName(T.table, "data-attendees");
    const workshopsTable = byName(T.table, "data-workshops");
    for (const fn of [api, jobs]) {
      expect(fn.inputs.runtime).toBe("nodejs22.x");
      expect(fn.inputs.handler).toBe("index.handler");
      expect(revealed(fn.inputs.environment).variables).toMatchObject({
        ATTENDEES_TABLE: attendees.state.name,
        WORKSHOPS_TABLE: workshopsTable.state.name,
        OPENROUTER_BASE_URL: "https://openrouter.ai/api/v1",
        OPENROUTER_SECRET_ARN: secret.name,
        OPENROUTER_GOVERNANCE: "assignment",
        ATTENDEE_BASE_URL: "https://openrouter.ai/api/v1",
      });
      expect(revealed(fn.inputs.environment).variables.OPENROUTER_MANAGEMENT_KEY).toBeUndefined();
      // Under the stack's prefix: the only log groups the deploy role may change (infra/iam).
      expect(fn.inputs.loggingConfig.logGroup).toMatch(/^wkm-test--/);
    }
    expect(revealed(api.inputs.environment).variables).toMatchObject({
      AUTH_ISSUER: `https://cognito-idp.eu-central-1.amazonaws.com/${pool.id}`,
      AUTH_CLIENT_ID: client.id,
      ADMIN_GROUP: "admins",
      // The stack's retention setting (default: profiles and consents kept 180 days after their last write).
      ATTENDEE_RETENTION_DAYS: "180",
    });
  });

  it("gives each function an environment its own config reader accepts", async () => {
    const { readConfig } = await import("../functions/config.js");
    const { readJobsConfig } = await import("../functions/jobs/config.js");
    const apiEnv = revealed(program.one(T.fn, "functions-api").inputs.environment).variables;
    const jobsEnv = revealed(program.one(T.fn, "functions-jobs").inputs.environment).variables;
    const api = readConfig(apiEnv);
    // Governance defaults to "assignment" (one guardrail per workshop, any OpenRouter account).
    expect(api.openrouter).toEqual({ baseUrl: "https://openrouter.ai/api/v1", secretArn: managementKeySecret().name, governance: "assignment" });
    expect(readJobsConfig(jobsEnv).openrouter.governance).toBe("assignment");
    expect(api.auth.adminGroup).toBe("admins");
    const jobs = readJobsConfig(jobsEnv);
    expect(jobs.tables).toEqual(api.tables);
  });

  it("names concrete ARNs in every policy: no wildcard resource on data or the secret", () => {
    const secretArn = managementKeySecret().arn;
    // The program declares no secret for the key: the one-time setup made it, with its value.
    expect(program.ofType(T.secret).map((s) => s.inputs.name)).toEqual(["workshop-key-minter/test/origin-verify"]);
    const policies = program.ofType(T.rolePolicy);
    expect(policies.length).toBeGreaterThanOrEqual(3);
    for (const p of policies) {
      for (const s of statementsOf(p.inputs.policy)) {
        const actions = asList(s.Action);
        const resources = asList(s.Resource);
        expect(resources.length, `${p.name} ${s.Sid}`).toBeGreaterThan(0);
        for (const r of resources) expect(r, `${p.name} ${s.Sid}`).toMatch(/^arn:aws:/);
        if (actions.some((a) => a.startsWith("dynamodb:"))) {
          expect(actions.every((a) => a.startsWith("dynamodb:") && !a.includes("*"))).toBe(true);
          for (const r of resources) expect(tableArns()).toContain(r);
        }
        if (actions.some((a) => a.startsWith("secretsmanager:"))) {
          expect(actions).toEqual(["secretsmanager:GetSecretValue"]);
          expect([[secretArn], [byName(T.secret, "origin-verify-secret").state.arn]]).toContainEqual(resources);
        }
        if (actions.some((a) => a.startsWith("logs:"))) {
          for (const r of resources) expect(r).toMatch(/^arn:aws:logs:.*:log-group:wkm-test--[^*]+:\*$/);
        }
      }
    }
  });

  it("lets only the minting (api) and jobs functions read the management key", () => {
    const readers = program
      .ofType(T.rolePolicy)
      .filter((p) => statementsOf(p.inputs.policy).some((s) => asList(s.Action).some((a) => a.startsWith("secretsmanager:"))));
    expect(readers.map((p) => p.name).sort()).toEqual(["functions-api-access", "functions-jobs-access"]);
    const roleOf = (fnName: string) => program.one(T.fn, fnName).inputs.role;
    expect(roleOf("functions-api")).toBe(byName(T.role, "functions-api-role").state.arn);
    expect(roleOf("functions-jobs")).toBe(byName(T.role, "functions-jobs-role").state.arn);
    expect(roleOf("functions-api")).not.toBe(roleOf("functions-jobs"));
  });

  it("gives each function only the table actions it uses; the jobs never see attendee profiles", () => {
    const attendeesArn = byName(T.table, "data-attendees").state.arn;
    const workshopsArn = byName(T.table, "data-workshops").state.arn;
    const tableStatements = (policy: string) =>
      Object.fromEntries(
        statementsOf(program.one(T.rolePolicy, policy).inputs.policy)
          .filter((s) => asList(s.Action)[0].startsWith("dynamodb:"))
          .map((s) => [asList(s.Resource)[0], asList(s.Action)]),
      );
    const api = tableStatements("functions-api-access");
    const jobs = tableStatements("functions-jobs-access");
    expect(api[attendeesArn]).toEqual(expect.arrayContaining(["dynamodb:GetItem", "dynamodb:UpdateItem"]));
    expect(api[workshopsArn]).toEqual(expect.arrayContaining(["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]));
    expect(jobs[attendeesArn]).toBeUndefined();
    expect(jobs[workshopsArn]).toEqual(expect.arrayContaining(["dynamodb:Query", "dynamodb:UpdateItem"]));
    for (const actions of [...Object.values(api), ...Object.values(jobs)]) {
      expect(actions).not.toContain("dynamodb:DeleteTable");
      expect(actions).not.toContain("dynamodb:*");
    }
  });

  it("keeps function logs for a bounded time", () => {
    for (const lg of program.ofType(T.logGroup)) expect(lg.inputs.retentionInDays).toBe(30);
  });
});

describe("the site", () => {
  it("keeps the bucket private: public access blocked, no website, no ACLs", () => {
    const bucket = program.one(T.bucket);
    const block = program.one(T.publicAccess);
    expect(block.inputs).toMatchObject({ bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    expect(bucket.inputs.website).toBeUndefined();
    expect(bucket.inputs.acl).toBeUndefined();
    expect(program.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs.rule.objectOwnership).toBe("BucketOwnerEnforced");
  });

  it("is read only by this distribution, through its Origin Access Control", () => {
    const bucket = program.one(T.bucket);
    const distribution = program.one(T.distribution);
    const oac = program.one(T.oac);
    expect(oac.inputs).toMatchObject({ originAccessControlOriginType: "s3", signingBehavior: "always", signingProtocol: "sigv4" });
    const s3Origin = revealed(distribution.inputs.origins).find((o: { domainName: string }) => o.domainName === bucket.state.bucketRegionalDomainName);
    expect(s3Origin.originAccessControlId).toBe(oac.id);
    expect(s3Origin.s3OriginConfig).toBeUndefined();

    const statements = statementsOf(program.one(T.bucketPolicy).inputs.policy);
    const allows = statements.filter((s) => s.Effect === "Allow");
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Principal: { Service: "cloudfront.amazonaws.com" },
      Action: "s3:GetObject",
      Resource: `${bucket.state.arn}/*`,
      Condition: { StringEquals: { "AWS:SourceArn": distribution.state.arn } },
    });
  });

  it("sends CSP, HSTS, nosniff and frame denial on every response", () => {
    const headers = program.one(T.headers).inputs.securityHeadersConfig;
    const csp: string = headers.contentSecurityPolicy.contentSecurityPolicy;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("https://cognito-idp.eu-central-1.amazonaws.com");
    expect(csp).toContain(`https://${LOGIN_PREFIX}.auth.eu-central-1.amazoncognito.com`);
    // The key page tests the attendee's key against OpenRouter from the browser.
    expect(csp).toMatch(/connect-src [^;]*https:\/\/openrouter\.ai/);
    expect(headers.strictTransportSecurity.accessControlMaxAgeSec).toBeGreaterThanOrEqual(31_536_000);
    expect(headers.contentTypeOptions.override).toBe(true);
    expect(headers.frameOptions.frameOption).toBe("DENY");
    const headersId = program.one(T.headers).id;
    const distribution = program.one(T.distribution).inputs;
    expect(distribution.defaultCacheBehavior.responseHeadersPolicyId).toBe(headersId);
    for (const b of distribution.orderedCacheBehaviors) expect(b.responseHeadersPolicyId).toBe(headersId);
  });

  it("routes the app with a viewer-request function, never by rewriting error pages, and proxies /api/* to the API", () => {
    const distribution = program.one(T.distribution).inputs;
    const api = program.one(T.api);
    // Error answers are passed through as the origin gave them (no page rewrite), and not kept:
    // CloudFront's default would cache a 4xx/5xx for 10 s for everyone.
    expect(distribution.customErrorResponses.length).toBeGreaterThan(0);
    for (const e of distribution.customErrorResponses) expect(e).toEqual({ errorCode: e.errorCode, errorCachingMinTtl: 0 });
    expect(distribution.customErrorResponses.map((e: { errorCode: number }) => e.errorCode)).toEqual(expect.arrayContaining([400, 403, 404, 500, 502, 503, 504]));
    expect(distribution.defaultCacheBehavior.functionAssociations).toEqual([
      { eventType: "viewer-request", functionArn: program.one(T.cfFunction).state.arn },
    ]);
    const apiBehavior = distribution.orderedCacheBehaviors.find((b: { pathPattern: string }) => b.pathPattern === "/api/*");
    expect(apiBehavior.functionAssociations ?? []).toEqual([]);
    expect(apiBehavior.allowedMethods).toEqual(expect.arrayContaining(["POST", "PUT"]));
    const apiOrigin = revealed(distribution.origins).find((o: { originId: string }) => o.originId === apiBehavior.targetOriginId);
    expect(apiOrigin.domainName).toBe(new URL(api.state.apiEndpoint).host);
    // The execute-api address reaches neither the preview's diff nor the outputs in the clear.
    expect(isSecretInput(distribution.origins)).toBe(true);
    expect(apiOrigin.customOriginConfig.originProtocolPolicy).toBe("https-only");
  });

  it("caches /api/* only as long as the API's Cache-Control allows, never across users", () => {
    const apiBehavior = program.one(T.distribution).inputs.orderedCacheBehaviors.find((b: { pathPattern: string }) => b.pathPattern === "/api/*");
    const policy = program.one("aws:cloudfront/cachePolicy:CachePolicy");
    expect(apiBehavior.cachePolicyId).toBe(policy.id);
    // Nothing is cached unless the answer says so (no-store, or no header: not cached), and never long.
    expect(policy.inputs).toMatchObject({ minTtl: 0, defaultTtl: 0 });
    expect(policy.inputs.maxTtl).toBeGreaterThanOrEqual(5);
    expect(policy.inputs.maxTtl).toBeLessThanOrEqual(60);
    const key = policy.inputs.parametersInCacheKeyAndForwardedToOrigin;
    // The bearer token is part of the key (and so reaches the API): one user's answer is never another's.
    expect(key.headersConfig.headerBehavior).toBe("whitelist");
    expect(key.headersConfig.headers.items).toContain("Authorization");
    expect(key.queryStringsConfig.queryStringBehavior).toBe("all");
    expect(key.cookiesConfig.cookieBehavior).toBe("none");
    // Everything else the API reads (body, content type, methods) is forwarded, Host excepted, and no viewer cookie.
    const request = program.one("aws:cloudfront/originRequestPolicy:OriginRequestPolicy");
    expect(apiBehavior.originRequestPolicyId).toBe(request.id);
    expect(request.inputs).toMatchObject({
      headersConfig: { headerBehavior: "allExcept", headers: { items: ["Host"] } },
      queryStringsConfig: { queryStringBehavior: "all" },
      cookiesConfig: { cookieBehavior: "none" },
    });
    expect(apiBehavior.cachedMethods.sort()).toEqual(["GET", "HEAD"]);
  });

  it("proves every request to the API origin with a secret header, and gives the API function the same secret through Secrets Manager", () => {
    const distribution = program.one(T.distribution).inputs;
    // The whole origins list is a Pulumi secret: the state and the preview's diff never show it.
    expect(isSecretInput(distribution.origins)).toBe(true);
    const origins = revealed(distribution.origins);
    const apiOrigin = origins.find((o: { originId: string }) => o.originId === "http-api");
    expect(apiOrigin.customHeaders).toHaveLength(1);
    const { name, value } = apiOrigin.customHeaders[0];
    expect(name).toBe("x-origin-verify");
    expect(value).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const siteOrigin = origins.find((o: { originId: string }) => o.originId === "site-bucket");
    expect(siteOrigin.customHeaders ?? []).toEqual([]);

    // No Lambda environment holds it: the API function gets the secret's ARN and may read that one secret.
    const secret = program.resources.find((r) => r.type === "aws:secretsmanager/secret:Secret" && r.inputs.name === "workshop-key-minter/test/origin-verify")!;
    const version = program.one("aws:secretsmanager/secretVersion:SecretVersion");
    expect(version.inputs.secretId).toBe(secret.id);
    expect(isSecretInput(version.inputs.secretString)).toBe(true);
    expect(revealed(version.inputs.secretString)).toBe(value);
    for (const fn of program.ofType(T.fn)) {
      expect(JSON.stringify(revealed(fn.inputs.environment)), fn.name).not.toContain(value);
      expect(revealed(fn.inputs.environment).variables.ORIGIN_VERIFY_SECRET, fn.name).toBeUndefined();
    }
    expect(revealed(program.one(T.fn, "functions-api").inputs.environment).variables.ORIGIN_VERIFY_SECRET_ARN).toBe(secret.state.arn);
    expect(revealed(program.one(T.fn, "functions-jobs").inputs.environment).variables.ORIGIN_VERIFY_SECRET_ARN).toBeUndefined();
    const readsOriginSecret = (fn: string) =>
      statementsOf(program.one("aws:iam/rolePolicy:RolePolicy", `functions-${fn}-access`).inputs.policy).some(
        (s) => s.Action.includes("secretsmanager:GetSecretValue") && s.Resource?.includes(secret.state.arn),
      );
    expect(readsOriginSecret("api")).toBe(true);
    expect(readsOriginSecret("jobs")).toBe(false);
    // Random once, kept in the state: a RandomPassword, not a value in the repository.
    expect(program.one("random:index/randomPassword:RandomPassword").state.result).toBe(value);
    expect(JSON.stringify(outputs)).not.toContain(value);
    for (const o of program.ofType(T.object)) expect(JSON.stringify(o.inputs)).not.toContain(value);
  });

  it("has no WAF unless wafApiRateLimit is set", () => {
    expect(program.ofType("aws:wafv2/webAcl:WebAcl")).toHaveLength(0);
    expect(program.one(T.distribution).inputs.webAclId).toBeUndefined();
  });

  it("uploads every built file with its content type, and a /config.json pointing at this stack", () => {
    const objects = program.ofType(T.object);
    const byKey = Object.fromEntries(objects.map((o) => [o.inputs.key, o.inputs]));
    expect(Object.keys(byKey).sort()).toEqual(["assets/main-ABCD1234.js", "assets/site-EFGH5678.css", "catalog.json", "config.json", "favicon.svg", "index.html"]);
    expect(byKey["index.html"]).toMatchObject({ contentType: "text/html; charset=utf-8", cacheControl: "no-cache" });
    expect(byKey["assets/main-ABCD1234.js"]).toMatchObject({ contentType: "text/javascript; charset=utf-8", cacheControl: expect.stringContaining("immutable") });
    expect(byKey["assets/site-EFGH5678.css"].contentType).toBe("text/css; charset=utf-8");
    expect(byKey["favicon.svg"].contentType).toBe("image/svg+xml");

    const origin = `https://${program.one(T.distribution).state.domainName}`;
    const client = program.one(T.client);
    const config = JSON.parse(byKey["config.json"].content);
    expect(config).toEqual({
      apiUrl: `${origin}/api`,
      mode: "cloud",
      openrouterBaseUrl: "https://openrouter.ai/api/v1",
      auth: {
        issuer: `https://cognito-idp.eu-central-1.amazonaws.com/${program.one(T.userPool).id}`,
        clientId: client.id,
        redirectUri: `${origin}/callback`,
        scope: "openid email profile",
        logoutUri: `https://${LOGIN_PREFIX}.auth.eu-central-1.amazoncognito.com/logout?client_id=${client.id}&logout_uri=${encodeURIComponent(`${origin}/`)}`,
      },
    });
    expect(outputs.siteUrl).toBe(origin);
  });
});

describe("sign-in", () => {
  it("has an SPA client: code flow, no secret, callback and logout on the site's origin", () => {
    const origin = `https://${program.one(T.distribution).state.domainName}`;
    const client = program.one(T.client).inputs;
    expect(client).toMatchObject({
      generateSecret: false,
      allowedOauthFlows: ["code"],
      allowedOauthFlowsUserPoolClient: true,
      callbackUrls: [`${origin}/callback`],
      logoutUrls: [`${origin}/`],
      supportedIdentityProviders: ["COGNITO"],
    });
    expect(client.allowedOauthScopes.sort()).toEqual(["email", "openid", "profile"]);
    expect(program.ofType(T.idp)).toHaveLength(0);
  });

  it("verifies email, signs in by email, and puts the configured admins in the admins group", () => {
    const pool = program.one(T.userPool).inputs;
    expect(pool.usernameAttributes).toEqual(["email"]);
    expect(pool.autoVerifiedAttributes).toEqual(["email"]);
    expect(program.one(T.group).inputs.name).toBe("admins");
    expect(program.ofType(T.user).map((u) => u.inputs.username)).toContain("admin@example.org");
    expect(program.one("aws:cognito/userInGroup:UserInGroup").inputs).toMatchObject({ groupName: "admins", username: "admin@example.org" });
    expect(program.one("aws:cognito/userPoolDomain:UserPoolDomain").inputs).toMatchObject({ domain: LOGIN_PREFIX, managedLoginVersion: 2 });
  });

  it("invites every organizer of every workshop file once, outside the admins group, so nobody can take their address first", () => {
    const organizers = [...new Set(workshops.flatMap((w) => w.organizers.map((e) => e.toLowerCase())))];
    expect(organizers.length).toBeGreaterThan(0);
    const users = program.ofType(T.user);
    expect(users.map((u) => u.inputs.username).sort()).toEqual(["admin@example.org", ...organizers].sort());
    for (const u of users) {
      expect(u.inputs.attributes).toEqual({ email: u.inputs.username, email_verified: "true" });
      expect(u.inputs.desiredDeliveryMediums).toEqual(["EMAIL"]);
    }
    expect(program.ofType("aws:cognito/userInGroup:UserInGroup").map((g) => g.inputs.username)).toEqual(["admin@example.org"]);
  });

  it("offers email and password on managed login: the flows managed login needs, password as the only factor", () => {
    const client = program.one(T.client).inputs;
    expect([...client.explicitAuthFlows].sort()).toEqual(["ALLOW_USER_AUTH", "ALLOW_USER_SRP_AUTH"]);
    // No flow that sends the password itself to the API.
    expect(client.explicitAuthFlows).not.toContain("ALLOW_USER_PASSWORD_AUTH");
    const pool = program.one(T.userPool).inputs;
    expect(pool.signInPolicy).toEqual({ allowedFirstAuthFactors: ["PASSWORD"] });
    expect(pool.userPoolTier).toBe("ESSENTIALS");
    expect(pool.verificationMessageTemplate.defaultEmailOption).toBe("CONFIRM_WITH_CODE");
    expect(pool.adminCreateUserConfig.allowAdminCreateUserOnly).toBe(false);
  });

  it("sends sign-up codes through SES when it is configured", () => {
    expect(program.one(T.userPool).inputs.emailConfiguration).toEqual({
      emailSendingAccount: "DEVELOPER",
      fromEmailAddress: "keys@example.org",
      sourceArn: `arn:aws:ses:eu-central-1:${ACCOUNT}:identity/example.org`,
    });
  });

  it("keeps an attendee signed in for a workshop day: hour-long tokens, a revocable, rotated refresh token valid 24 hours", () => {
    const client = program.one(T.client).inputs;
    expect(client).toMatchObject({
      idTokenValidity: 60,
      accessTokenValidity: 60,
      refreshTokenValidity: 24,
      tokenValidityUnits: { idToken: "minutes", accessToken: "minutes", refreshToken: "hours" },
      enableTokenRevocation: true,
    });
    // Each refresh retires the token it used: a stolen refresh token does not last the day. AWS
    // documents ALLOW_REFRESH_TOKEN_AUTH as incompatible with rotation; refreshes go to the token endpoint.
    expect(client.refreshTokenRotation).toEqual({ feature: "ENABLED", retryGracePeriodSeconds: expect.any(Number) });
    expect(client.refreshTokenRotation.retryGracePeriodSeconds).toBeLessThanOrEqual(60);
    expect(client.explicitAuthFlows).not.toContain("ALLOW_REFRESH_TOKEN_AUTH");
  });
});

describe("the API", () => {
  it("routes /api to the API function with payload v2, throttles, and allows no cross-origin caller without a custom domain", () => {
    const apiFn = program.one(T.fn, "functions-api");
    expect(program.one(T.integration).inputs).toMatchObject({ integrationType: "AWS_PROXY", integrationUri: apiFn.state.invokeArn, payloadFormatVersion: "2.0" });
    expect(program.ofType(T.route).map((r) => r.inputs.routeKey).sort()).toEqual(["ANY /api", "ANY /api/{proxy+}"]);
    expect(program.one(T.stage).inputs.defaultRouteSettings).toEqual({ throttlingRateLimit: 300, throttlingBurstLimit: 600 });
    expect(program.one(T.api).inputs.corsConfiguration).toBeUndefined();
    const permission = program.one(T.permission).inputs;
    expect(permission).toMatchObject({ principal: "apigateway.amazonaws.com", function: apiFn.state.name });
    expect(permission.sourceArn).toBe(`${program.one(T.api).state.executionArn}/*/*`);
  });
});
