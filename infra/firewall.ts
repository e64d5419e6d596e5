import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ApiFirewallArgs {
  /** API requests (paths under /api/) one client IP may make per 5 minutes before it is blocked. */
  apiRequestsPerIpPer5Minutes: number;
  /** The web ACL is named `<namePrefix>api`: the deploy role changes only the stack's web ACLs (infra/iam). */
  namePrefix: string;
  tags?: Record<string, string>;
}

/** WAF for CloudFront lives in us-east-1, whatever region the stack runs in. */
export const CLOUDFRONT_WAF_REGION = "us-east-1";
const WINDOW_SECONDS = 300;

/**
 * An optional AWS WAF web ACL on the distribution with one rate-based rule: a client IP that makes
 * more API requests than the limit in 5 minutes gets 429 answers until its rate drops. One noisy
 * client then cannot use up the HTTP API's stage-wide throttle for the whole room. The static site
 * is not counted, only `/api/`. It costs money (a web ACL, a rule, and every request), so it is off
 * unless `wafApiRateLimit` is set.
 */
export class ApiFirewall extends pulumi.ComponentResource {
  readonly webAcl: aws.wafv2.WebAcl;

  constructor(name: string, args: ApiFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:firewall:ApiFirewall", name, {}, opts);
    const usEast1 = new aws.Provider(`${name}-us-east-1`, { region: CLOUDFRONT_WAF_REGION }, { parent: this });
    // Sampled requests would keep viewers' headers, bearer tokens included: metrics only.
    const visibility = (metricName: string) => ({ cloudwatchMetricsEnabled: true, metricName, sampledRequestsEnabled: false });
    this.webAcl = new aws.wafv2.WebAcl(
      `${name}-acl`,
      {
        name: `${args.namePrefix}api`,
        description: "Workshop Key Minter: per-IP rate limit on the API",
        scope: "CLOUDFRONT",
        defaultAction: { allow: {} },
        rules: [
          {
            name: "api-rate-per-ip",
            priority: 0,
            action: { block: { customResponse: { responseCode: 429 } } },
            statement: {
              rateBasedStatement: {
                limit: args.apiRequestsPerIpPer5Minutes,
                evaluationWindowSec: WINDOW_SECONDS,
                aggregateKeyType: "IP",
                scopeDownStatement: {
                  byteMatchStatement: {
                    fieldToMatch: { uriPath: {} },
                    positionalConstraint: "STARTS_WITH",
                    searchString: "/api/",
                    textTransformations: [{ priority: 0, type: "NONE" }],
                  },
                },
              },
            },
            visibilityConfig: visibility("wkm-api-rate-per-ip"),
          },
        ],
        visibilityConfig: visibility("wkm-api"),
        tags: args.tags,
      },
      { parent: this, provider: usEast1 },
    );
    this.registerOutputs({ webAclArn: this.webAcl.arn });
  }
}
