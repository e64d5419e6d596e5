import * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BundledFunction } from "./bundle.js";
import type { PolicyDocument, PolicyStatement } from "./iam/documents.js";
import { loadWorkshops } from "../workshops/load.js";
import type { Workshop } from "../workshops/schema.js";

/**
 * Pulumi's unit-test mocks for this program: every resource the program declares is recorded with
 * its resolved inputs, and given the computed outputs AWS would give it (ARNs, endpoints), so the
 * tests can follow references between resources the way the real engine does.
 */

export const ACCOUNT = "123456789012";
export const REGION = "eu-central-1";
export const PROJECT = "workshop-key-minter";
const UNIQUE_SUFFIX = "20261201023000000000000001";

export interface RecordedResource {
  type: string;
  name: string;
  id: string;
  inputs: Record<string, any>;
  state: Record<string, any>;
}

/**
 * The name the provider gives a resource: the one asked for, else its name prefix and a
 * 26-character unique suffix, else one made from the logical name.
 */
function physicalName(given: string | undefined, prefix: string | undefined, autoname: string): string {
  return given ?? (prefix ? `${prefix}${UNIQUE_SUFFIX}` : autoname);
}

function computedOutputs(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
  switch (type) {
    case "aws:dynamodb/table:Table":
      return { name: inputs.name ?? `${name}-tbl`, arn: arn("dynamodb", `table/${inputs.name ?? `${name}-tbl`}`) };
    case "aws:secretsmanager/secret:Secret":
      return { arn: arn("secretsmanager", `secret:${inputs.name}-AbCdEf`) };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { name: inputs.name ?? `/wkm/${name}`, arn: arn("logs", `log-group:${inputs.name ?? `/wkm/${name}`}:*`) };
    case "aws:iam/role:Role": {
      const roleName = physicalName(inputs.name, inputs.namePrefix, `${name}-role`);
      return { name: roleName, arn: `arn:aws:iam::${ACCOUNT}:role/${roleName}` };
    }
    case "aws:lambda/function:Function": {
      const fnName = inputs.name ?? `${name}-fn`;
      return {
        name: fnName,
        arn: arn("lambda", `function:${fnName}`),
        invokeArn: `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${arn("lambda", `function:${fnName}`)}/invocations`,
      };
    }
    case "aws:apigatewayv2/api:Api":
      return { apiEndpoint: `https://${name}id.execute-api.${REGION}.amazonaws.com`, executionArn: arn("execute-api", `${name}id`) };
    case "aws:s3/bucket:Bucket": {
      const bucket = physicalName(inputs.bucket, inputs.bucketPrefix, `${name}-bkt`);
      return { bucket, arn: `arn:aws:s3:::${bucket}`, bucketRegionalDomainName: `${bucket}.s3.${REGION}.amazonaws.com` };
    }
    case "aws:cloudfront/distribution:Distribution":
      return { arn: `arn:aws:cloudfront::${ACCOUNT}:distribution/E${name.toUpperCase()}`, domainName: `d${name}.cloudfront.net` };
    case "aws:cloudfront/function:Function":
      return { arn: `arn:aws:cloudfront::${ACCOUNT}:function/${inputs.name ?? name}` };
    case "aws:sqs/queue:Queue": {
      const queue = physicalName(inputs.name, inputs.namePrefix, `${name}-q`);
      return { name: queue, arn: arn("sqs", queue), url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${queue}` };
    }
    case "aws:sns/topic:Topic":
      return { arn: arn("sns", inputs.name ?? `${name}-topic`) };
    case "aws:sns/topicSubscription:TopicSubscription":
      return { arn: `${inputs.topic}:0a1b2c3d-${name}` };
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return { arn: arn("cloudwatch", `alarm:${inputs.name ?? name}`) };
    case "aws:cloudwatch/dashboard:Dashboard":
      return { dashboardArn: `arn:aws:cloudwatch::${ACCOUNT}:dashboard/${inputs.dashboardName}` };
    case "aws:scheduler/scheduleGroup:ScheduleGroup": {
      const group = physicalName(inputs.name, inputs.namePrefix, `${name}-grp`);
      return { name: group, arn: arn("scheduler", `schedule-group/${group}`) };
    }
    case "aws:scheduler/schedule:Schedule":
      return { arn: arn("scheduler", `schedule/${inputs.groupName ?? "default"}/${inputs.name}`) };
    case "aws:cognito/userPool:UserPool":
      return { arn: arn("cognito-idp", `userpool/${REGION}_Pool${name}`) };
    case "aws:cognito/userGroup:UserGroup":
      return { name: inputs.name };
    case "pulumi-nodejs:dynamic/openrouter:Guardrail":
      return { guardrailId: `gr-${name}` };
    case "pulumi-nodejs:dynamic/openrouter:Workspace":
      return { workspaceId: `ws-${name}`, guardrailId: `ws-default-gr-${name}` };
    case "aws:wafv2/webAcl:WebAcl":
      return { arn: `arn:aws:wafv2:us-east-1:${ACCOUNT}:global/webacl/${inputs.name ?? name}/0f1e2d3c`, id: `${name}-acl-id` };
    case "random:index/randomPassword:RandomPassword":
      // What the random provider would generate: a fresh value per declaration.
      return { result: randomBytes(36).toString("base64url").slice(0, inputs.length ?? 16) };
    default:
      return {};
  }
}

/** Whether a recorded input is a secret: it reaches the mocks in Pulumi's wire form, `{[specialSigKey]: specialSecretSig, value}`. */
export function isSecretInput(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
}

/** A recorded input with every secret wrapper taken off, for assertions about its content. */
export function revealed(value: any): any {
  if (isSecretInput(value)) return revealed(value.value);
  if (Array.isArray(value)) return value.map(revealed);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealed(v)]));
  return value;
}

export interface MockedProgram {
  resources: RecordedResource[];
  ofType(type: string): RecordedResource[];
  one(type: string, name?: string): RecordedResource;
}

/** Installs the mocks and the stack config; call before importing any program module. */
export function installMocks(config: Record<string, string>, secretKeys: string[] = []): MockedProgram {
  const resources: RecordedResource[] = [];
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        const id = args.type.startsWith("aws:cognito/userPool") ? `${REGION}_Pool${args.name.replace(/[^A-Za-z0-9]/g, "")}` : `${args.name}-id`;
        const state = { ...args.inputs, ...computedOutputs(args.type, args.name, args.inputs) };
        resources.push({ type: args.type, name: args.name, id, inputs: args.inputs, state });
        return { id, state };
      },
      call(args) {
        if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") {
          return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ci`, userId: "AIDACI", id: ACCOUNT };
        }
        throw new Error(`the program made an unexpected call: ${args.token}`);
      },
    },
    PROJECT,
    "test",
    false,
  );
  pulumi.runtime.setAllConfig({ "aws:region": REGION, ...config }, secretKeys);
  const ofType = (type: string) => resources.filter((r) => r.type === type);
  return {
    resources,
    ofType,
    one(type, name) {
      const found = ofType(type).filter((r) => name === undefined || r.name === name);
      if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
      return found[0];
    },
  };
}

/** Waits until every registration the program started has reached the mocks. */
export async function settle(): Promise<void> {
  // `waitForRPCs` is how `pulumi` itself waits before exiting; it is exported but not re-exported.
  const settings = createRequire(import.meta.url)("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  await settings.waitForRPCs();
}

export function valueOf<T>(value: pulumi.Input<T>): Promise<pulumi.Unwrap<T>> {
  return new Promise((resolve) => pulumi.output(value).apply((v) => resolve(v)));
}

/**
 * A stand-in for esbuild in the program tests: the Lambda packages are built and tested in
 * bundle.test.ts; here only their wiring matters, so each "package" is a one-line module.
 */
export function fakeBundler(): (entry: string, name: string) => Promise<BundledFunction> {
  const root = mkdtempSync(join(tmpdir(), "wkm-bundle-"));
  return async (_entry, name) => {
    const outdir = join(root, name);
    mkdirSync(outdir, { recursive: true });
    writeFileSync(join(outdir, "index.mjs"), "export const handler = async () => ({ statusCode: 204 });\n");
    return { name, outdir, sizeBytes: 57, sourceMapFile: `${outdir}.index.mjs.map`, sourceMapBytes: 0, inputs: {} };
  };
}

/** A built-site folder like web/dist, small enough to read in an assertion. */
export function fakeSiteDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "wkm-site-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>t</title>");
  writeFileSync(join(dir, "catalog.json"), "{}");
  writeFileSync(join(dir, "favicon.svg"), "<svg/>");
  // A local build's config must never reach the bucket: the stack writes its own.
  writeFileSync(join(dir, "config.json"), JSON.stringify({ mode: "local-emulator" }));
  writeFileSync(join(dir, "assets", "main-ABCD1234.js"), "console.log(1)");
  writeFileSync(join(dir, "assets", "site-EFGH5678.css"), "body{}");
  return dir;
}

/** The deploy's clock in the program tests: before every workshop in the repository, so all of their schedules lie ahead. */
export const BEFORE_EVERY_WORKSHOP = Date.parse("2026-01-01T00:00:00Z");

export interface DeclaredStack {
  program: MockedProgram;
  workshops: Workshop[];
  /** The program's outputs, resolved. */
  outputs: Record<string, unknown>;
}

/**
 * The whole program as `pulumi preview` would declare it for this stack config: the repository's
 * workshop files, a fake site build and fake bundles, the deploy's clock at BEFORE_EVERY_WORKSHOP
 * unless `now` says otherwise. Resolves once every resource is recorded.
 */
export async function declareStack(config: Record<string, string>, secretKeys: string[] = [], now = BEFORE_EVERY_WORKSHOP): Promise<DeclaredStack> {
  const program = installMocks(config, secretKeys);
  const { workshopKeyMinter } = await import("./stack.js");
  const { readStackSettings } = await import("./settings.js");
  const workshops = loadWorkshops();
  const declared = workshopKeyMinter({
    workshops,
    settings: readStackSettings({ accountId: ACCOUNT, workshops, now }),
    siteDir: fakeSiteDir(),
    now,
    accountId: ACCOUNT,
    bundle: fakeBundler(),
  });
  const outputs = Object.fromEntries(await Promise.all(Object.entries(declared).map(async ([k, v]) => [k, await valueOf(v as never)])));
  await settle();
  return { program, workshops, outputs };
}

export function statementsOf(policy: string): PolicyStatement[] {
  return (JSON.parse(policy) as PolicyDocument).Statement;
}

export const asList = (x: string | string[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
