import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface HttpApiArgs {
  handler: aws.lambda.Function;
  /**
   * Origins a browser may call the API from directly. The site calls it same-origin through
   * CloudFront (`/api/*`), so this is only the custom domain when there is one; an empty list means
   * no cross-origin caller at all.
   */
  corsOrigins: string[];
  throttle: { ratePerSecond: number; burst: number };
  logRetentionDays: number;
  /** The access-log group is named `<namePrefix>api-access`: the deploy role changes only the stack's log groups (infra/iam). */
  namePrefix: string;
  tags?: Record<string, string>;
}

/**
 * The HTTP API in front of the API function: every `/api` route goes to the Hono app (payload
 * version 2.0), the `$default` stage throttles, and access logs go to their own log group.
 */
export class HttpApi extends pulumi.ComponentResource {
  readonly api: aws.apigatewayv2.Api;
  readonly stage: aws.apigatewayv2.Stage;
  /** e.g. https://abc123.execute-api.eu-central-1.amazonaws.com */
  readonly endpoint: pulumi.Output<string>;
  /** The endpoint's host name, CloudFront's origin for `/api/*`. */
  readonly domain: pulumi.Output<string>;

  constructor(name: string, args: HttpApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:api:HttpApi", name, {}, opts);
    this.api = this.createApi(name, args);
    const integration = this.createIntegration(name, args.handler);
    this.createRoutes(name, integration);
    this.stage = this.createStage(name, args);
    this.allowInvocation(name, args.handler);
    this.endpoint = this.api.apiEndpoint;
    this.domain = this.api.apiEndpoint.apply((u) => new URL(u).host);
    this.registerOutputs({ endpoint: this.endpoint });
  }

  private createApi(name: string, args: HttpApiArgs): aws.apigatewayv2.Api {
    return new aws.apigatewayv2.Api(
      `${name}-http`,
      {
        protocolType: "HTTP",
        description: "Workshop Key Minter API",
        corsConfiguration:
          args.corsOrigins.length > 0
            ? {
                allowOrigins: args.corsOrigins,
                allowMethods: ["GET", "POST", "PUT", "OPTIONS"],
                allowHeaders: ["authorization", "content-type"],
                maxAge: 3600,
              }
            : undefined,
        tags: args.tags,
      },
      { parent: this },
    );
  }

  private createIntegration(name: string, handler: aws.lambda.Function): aws.apigatewayv2.Integration {
    return new aws.apigatewayv2.Integration(
      `${name}-lambda`,
      {
        apiId: this.api.id,
        integrationType: "AWS_PROXY",
        integrationUri: handler.invokeArn,
        integrationMethod: "POST",
        payloadFormatVersion: "2.0",
        timeoutMilliseconds: 30_000,
      },
      { parent: this },
    );
  }

  private createRoutes(name: string, integration: aws.apigatewayv2.Integration): void {
    for (const [suffix, routeKey] of [
      ["root", "ANY /api"],
      ["proxy", "ANY /api/{proxy+}"],
    ]) {
      new aws.apigatewayv2.Route(
        `${name}-${suffix}`,
        { apiId: this.api.id, routeKey, target: pulumi.interpolate`integrations/${integration.id}` },
        { parent: this },
      );
    }
  }

  private createStage(name: string, args: HttpApiArgs): aws.apigatewayv2.Stage {
    const accessLogs = new aws.cloudwatch.LogGroup(
      `${name}-access-logs`,
      { name: `${args.namePrefix}api-access`, retentionInDays: args.logRetentionDays, tags: args.tags },
      { parent: this },
    );
    return new aws.apigatewayv2.Stage(
      `${name}-default`,
      {
        apiId: this.api.id,
        name: "$default",
        autoDeploy: true,
        defaultRouteSettings: {
          throttlingRateLimit: args.throttle.ratePerSecond,
          throttlingBurstLimit: args.throttle.burst,
        },
        accessLogSettings: {
          destinationArn: accessLogs.arn,
          format: JSON.stringify({
            requestId: "$context.requestId",
            ip: "$context.identity.sourceIp",
            time: "$context.requestTime",
            method: "$context.httpMethod",
            path: "$context.path",
            status: "$context.status",
            latencyMs: "$context.responseLatency",
            integrationError: "$context.integrationErrorMessage",
          }),
        },
        tags: args.tags,
      },
      { parent: this },
    );
  }

  private allowInvocation(name: string, handler: aws.lambda.Function): void {
    new aws.lambda.Permission(
      `${name}-invoke`,
      {
        action: "lambda:InvokeFunction",
        function: handler.name,
        principal: "apigateway.amazonaws.com",
        sourceArn: pulumi.interpolate`${this.api.executionArn}/*/*`,
      },
      { parent: this },
    );
  }
}
