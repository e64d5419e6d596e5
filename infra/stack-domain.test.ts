import { beforeAll, describe, expect, it } from "vitest";
import { declareStack, revealed, type MockedProgram } from "./pulumi-mocks.js";

/**
 * The optional settings: a custom domain (aliases, certificate, CORS, callback URLs on it), Google
 * sign-in, a session length and the WAF rate limit. A separate file because Pulumi's mocks and
 * config are process-wide.
 */

let program: MockedProgram;

beforeAll(async () => {
  ({ program } = await declareStack(
    {
      "workshop-key-minter:domain": "keys.example.org",
      "workshop-key-minter:certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
      "workshop-key-minter:googleClientId": "1234.apps.googleusercontent.com",
      "workshop-key-minter:googleClientSecret": "google-client-secret-for-tests",
      "workshop-key-minter:authDomainPrefix": "keys-example",
      "workshop-key-minter:logRetentionDays": "14",
      "workshop-key-minter:sessionHours": "36",
      "workshop-key-minter:wafApiRateLimit": "3000",
    },
    ["workshop-key-minter:googleClientSecret"],
  ));
});

describe("with a custom domain, Google sign-in, a longer session and a WAF rate limit", () => {
  it("serves the site on the domain with its us-east-1 certificate", () => {
    const distribution = program.one("aws:cloudfront/distribution:Distribution").inputs;
    expect(distribution.aliases).toEqual(["keys.example.org"]);
    expect(distribution.viewerCertificate).toMatchObject({
      acmCertificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/abc",
      sslSupportMethod: "sni-only",
    });
  });

  it("limits CORS to the site's origin and signs in back to it", () => {
    expect(program.one("aws:apigatewayv2/api:Api").inputs.corsConfiguration.allowOrigins).toEqual(["https://keys.example.org"]);
    const apiFn = program.ofType("aws:lambda/function:Function").find((f) => f.name === "functions-api")!;
    expect(revealed(apiFn.inputs.environment).variables.CORS_ALLOWED_ORIGINS).toBe("https://keys.example.org");
    const client = program.one("aws:cognito/userPoolClient:UserPoolClient").inputs;
    expect(client.callbackUrls).toEqual(["https://keys.example.org/callback"]);
    expect(client.logoutUrls).toEqual(["https://keys.example.org/"]);
    expect(client.supportedIdentityProviders).toEqual(["COGNITO", "Google"]);
    const config = JSON.parse(program.ofType("aws:s3/bucketObjectv2:BucketObjectv2").find((o) => o.inputs.key === "config.json")!.inputs.content);
    expect(config.apiUrl).toBe("https://keys.example.org/api");
    expect(config.auth.logoutUri).toMatch(/^https:\/\/keys-example\.auth\.eu-central-1\.amazoncognito\.com\/logout\?/);
  });

  it("adds Google as an identity provider with the email claims mapped", () => {
    const google = program.one("aws:cognito/identityProvider:IdentityProvider").inputs;
    expect(google).toMatchObject({ providerName: "Google", providerType: "Google" });
    // The client secret came from `config set --secret`, so Pulumi keeps the whole map encrypted.
    const SECRET_SIG = "4dabf18193072939515e22adb298388d";
    expect(google.providerDetails[SECRET_SIG]).toBe("1b47061264138c4ac30d75fd1eb44270");
    expect(google.providerDetails.value.client_id).toBe("1234.apps.googleusercontent.com");
    expect(google.attributeMapping).toMatchObject({ email: "email", email_verified: "email_verified" });
  });

  it("uses the configured log retention", () => {
    for (const lg of program.ofType("aws:cloudwatch/logGroup:LogGroup")) expect(lg.inputs.retentionInDays).toBe(14);
  });

  it("keeps a sign-in for the configured number of hours", () => {
    const client = program.one("aws:cognito/userPoolClient:UserPoolClient").inputs;
    expect(client).toMatchObject({ refreshTokenValidity: 36, tokenValidityUnits: { refreshToken: "hours" } });
  });

  it("puts a per-IP rate limit on the API in a WAF web ACL in us-east-1, attached to the distribution", () => {
    const acl = program.one("aws:wafv2/webAcl:WebAcl");
    expect(acl.inputs.scope).toBe("CLOUDFRONT");
    expect(acl.inputs.defaultAction).toEqual({ allow: {} });
    expect(acl.inputs.rules).toHaveLength(1);
    const rule = acl.inputs.rules[0];
    expect(rule.action).toEqual({ block: { customResponse: { responseCode: 429 } } });
    expect(rule.statement.rateBasedStatement).toMatchObject({ limit: 3000, aggregateKeyType: "IP", evaluationWindowSec: 300 });
    expect(rule.statement.rateBasedStatement.scopeDownStatement.byteMatchStatement).toMatchObject({ positionalConstraint: "STARTS_WITH", searchString: "/api/" });
    // No sampled requests: they would keep viewers' bearer tokens.
    expect(acl.inputs.visibilityConfig.sampledRequestsEnabled).toBe(false);
    expect(rule.visibilityConfig.sampledRequestsEnabled).toBe(false);
    // CloudFront reads WAF only from us-east-1, whatever the stack's region.
    const provider = program.one("pulumi:providers:aws", "firewall-us-east-1");
    expect(provider.inputs.region).toBe("us-east-1");
    expect(program.one("aws:cloudfront/distribution:Distribution").inputs.webAclId).toBe(acl.state.arn);
  });
});
