import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startEmulator, type RunningEmulator } from "../../local/emulator/index.js";
import { ensureTables, startLocalDynamo, type LocalDynamo } from "../../local/dynamo.js";
import { ConfigError, readConfig } from "../config.js";
import { createStore } from "../data/store.js";
import { ORIGIN_VERIFY_HEADER, requireOriginSecret } from "./origin-verify.js";
import { apiGatewayEvent, startTestIssuer, testWorkshop, TEST_CLIENT_ID, type TestIssuer } from "../../local/test-stack.js";

/**
 * The Lambda entry point as API Gateway calls it: environment read at cold start, API Gateway v2
 * events in, responses out, against dynalite (AWS_ENDPOINT_URL_DYNAMODB) and the emulator.
 */

let dynamo: LocalDynamo;
let upstream: RunningEmulator;
let issuer: TestIssuer;
const saved = { ...process.env };

beforeAll(async () => {
  [dynamo, upstream, issuer] = await Promise.all([startLocalDynamo(), startEmulator({ port: 0 }), startTestIssuer()]);
  const tables = { attendees: "handler-attendees", workshops: "handler-workshops" };
  await ensureTables(dynamo.client, tables);
  const store = createStore({ client: dynamo.client, tableNames: tables });
  const w = testWorkshop("lambda", Date.now());
  await store.putWorkshop(w.slug, { config: w }, Date.now());
  await store.putCatalog([w], Date.now());
  await store.confirmProfile("lambda-user", { displayName: "Lambda User" }, Date.now());
  Object.assign(process.env, {
    ATTENDEES_TABLE: tables.attendees,
    WORKSHOPS_TABLE: tables.workshops,
    OPENROUTER_BASE_URL: upstream.url,
    OPENROUTER_MANAGEMENT_KEY: upstream.managementKey,
    AUTH_ISSUER: issuer.issuer,
    AUTH_CLIENT_ID: TEST_CLIENT_ID,
    AUTH_JWKS_URI: issuer.jwksUri,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_REGION: "local",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
  });
});

afterAll(async () => {
  process.env = saved;
  await Promise.all([dynamo?.close(), upstream?.close(), issuer?.close()]);
});

describe("the API Lambda", () => {
  it("serves the contract through API Gateway events, claim included", async () => {
    const { handler } = await import("./handler.js");
    const invoke = (event: ReturnType<typeof apiGatewayEvent>) =>
      (handler as unknown as (e: unknown, c: unknown) => Promise<{ statusCode: number; body: string; headers: Record<string, string> }>)(event, {});

    const list = await invoke(apiGatewayEvent("GET", "/api/workshops"));
    expect(list.statusCode).toBe(200);
    expect(JSON.parse(list.body).workshops.map((w: { slug: string }) => w.slug)).toEqual(["lambda"]);

    expect((await invoke(apiGatewayEvent("POST", "/api/workshops/lambda/claim"))).statusCode).toBe(401);

    const token = issuer.tokenFor({ sub: "lambda-user", email: "lambda@example.com" });
    const claimed = await invoke(apiGatewayEvent("POST", "/api/workshops/lambda/claim", { token, body: "{}" }));
    expect(claimed.statusCode).toBe(201);
    const { key } = JSON.parse(claimed.body) as { key: { status: string; key: string } };
    expect(key.status).toBe("ACTIVE");
    expect(key.key).toMatch(/^sk-or-/);
    expect(upstream.emulator.state.keys).toHaveLength(1);
  });

  it("fails loudly at cold start, naming every missing variable", () => {
    expect(() => readConfig({})).toThrow(ConfigError);
    try {
      readConfig({ AUTH_ISSUER: "not a url", ATTENDEE_RETENTION_DAYS: "forever" });
    } catch (err) {
      const message = (err as Error).message;
      for (const name of ["ATTENDEES_TABLE", "WORKSHOPS_TABLE", "OPENROUTER_SECRET_ARN", "AUTH_CLIENT_ID", "AUTH_ISSUER must be a URL", "ATTENDEE_RETENTION_DAYS must be a whole number"]) expect(message).toContain(name);
    }
    const validEnv = () => ({
      ATTENDEES_TABLE: "a",
      WORKSHOPS_TABLE: "w",
      OPENROUTER_SECRET_ARN: "arn:aws:secretsmanager:eu-central-1:1:secret:x",
      AUTH_ISSUER: "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_abc",
      AUTH_CLIENT_ID: "client",
    });
    const config = readConfig(validEnv());
    expect(config).toMatchObject({
      openrouter: { baseUrl: "https://openrouter.ai/api/v1", secretArn: "arn:aws:secretsmanager:eu-central-1:1:secret:x" },
      auth: { adminGroup: "admins" },
      attendeeBaseUrl: "https://openrouter.ai/api/v1",
      retention: { attendeeDays: 180, afterKeyExpiryDays: 30 },
    });
    expect(readConfig({ ...validEnv(), ATTENDEE_RETENTION_DAYS: "90" }).retention.attendeeDays).toBe(90);
  });

  it("answers only requests that carry CloudFront's origin secret when ORIGIN_VERIFY_SECRET is set", async () => {
    const secret = randomBytes(24).toString("base64url");
    process.env.ORIGIN_VERIFY_SECRET = secret;
    try {
      // A container that starts with the secret in its environment (the cloud's API Lambda).
      vi.resetModules();
      const { handler } = await import("./handler.js");
      const invoke = (headers?: Record<string, string>) =>
        (handler as unknown as (e: unknown, c: unknown) => Promise<{ statusCode: number; body: string; headers: Record<string, string> }>)(
          apiGatewayEvent("GET", "/api/workshops", { headers }),
          {},
        );

      for (const headers of [undefined, { [ORIGIN_VERIFY_HEADER]: "not-the-secret" }, { [ORIGIN_VERIFY_HEADER]: `${secret}x` }, { [ORIGIN_VERIFY_HEADER]: "" }]) {
        const refused = await invoke(headers);
        expect(refused.statusCode).toBe(403);
        expect(refused.headers["content-type"]).toBe("application/json");
        expect(refused.headers["cache-control"]).toBe("no-store");
        expect(JSON.parse(refused.body)).toEqual({ error: { code: "forbidden", message: expect.stringMatching(/through the site/) } });
        expect(refused.body).not.toContain(secret);
      }

      const answered = await invoke({ [ORIGIN_VERIFY_HEADER]: secret });
      expect(answered.statusCode).toBe(200);
      expect(JSON.parse(answered.body).workshops.map((w: { slug: string }) => w.slug)).toEqual(["lambda"]);
    } finally {
      delete process.env.ORIGIN_VERIFY_SECRET;
      vi.resetModules();
    }
  });

  it("reads the cloud's origin secret from Secrets Manager, not the environment: ORIGIN_VERIFY_SECRET_ARN", () => {
    const env = {
      ATTENDEES_TABLE: "a",
      WORKSHOPS_TABLE: "w",
      OPENROUTER_SECRET_ARN: "arn:aws:secretsmanager:eu-central-1:1:secret:x",
      AUTH_ISSUER: "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_abc",
      AUTH_CLIENT_ID: "client",
    };
    const arn = "arn:aws:secretsmanager:eu-central-1:1:secret:workshop-key-minter/prod/origin-verify-AbCdEf";
    expect(readConfig({ ...env, ORIGIN_VERIFY_SECRET_ARN: arn }).originVerify).toEqual({ secretArn: arn });
    // The ARN wins: a value in the environment is for places without AWS only.
    expect(readConfig({ ...env, ORIGIN_VERIFY_SECRET_ARN: arn, ORIGIN_VERIFY_SECRET: "plain" }).originVerify).toEqual({ secretArn: arn });
    expect(readConfig(env).originVerify).toBeUndefined();
  });

  it("loads the origin secret once per container, answers 503 while it cannot, and tries again on the next request", async () => {
    // The loader stands in for Secrets Manager (no local stand-in here): it fails once, as a
    // throttled or unreachable Secrets Manager would, then answers.
    const secret = randomBytes(24).toString("base64url");
    let loads = 0;
    const load = async () => {
      loads += 1;
      if (loads === 1) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
      return secret;
    };
    const failures: unknown[] = [];
    const app = async () => ({ statusCode: 200, body: "{}", headers: {}, isBase64Encoded: false });
    const handler = requireOriginSecret(load, app, (err) => failures.push(err));
    const event = (value?: string) => apiGatewayEvent("GET", "/api/workshops", { headers: value === undefined ? undefined : { [ORIGIN_VERIFY_HEADER]: value } }) as never;

    const unavailable = await handler(event(secret));
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.headers?.["cache-control"]).toBe("no-store");
    expect(failures).toHaveLength(1);
    expect((await handler(event(secret))).statusCode).toBe(200);
    expect((await handler(event("wrong"))).statusCode).toBe(403);
    expect((await handler(event(secret))).statusCode).toBe(200);
    expect(loads).toBe(2);
  });

  it("has no origin check without ORIGIN_VERIFY_SECRET (the local stack)", async () => {
    vi.resetModules();
    const { handler } = await import("./handler.js");
    const res = await (handler as unknown as (e: unknown, c: unknown) => Promise<{ statusCode: number }>)(apiGatewayEvent("GET", "/api/workshops"), {});
    expect(res.statusCode).toBe(200);
  });
});
