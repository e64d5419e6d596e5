import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { readdirSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { ORIGIN_VERIFY_HEADER } from "../functions/api/origin-verify.js";
import type { CustomDomain } from "./settings.js";

/** CloudFront's managed policies (ids are fixed by AWS). */
export const MANAGED_CACHE_POLICY = {
  cachingOptimized: "658327ea-f89d-4fab-a63d-7e88639e58f6",
};

/**
 * The HTTP status codes whose error answers CloudFront would otherwise keep for its default 10 s:
 * with a minimum TTL of 0, one malformed request cannot make the public workshop status fail for
 * the whole room; an answer is kept only as long as its own Cache-Control says.
 */
export const UNCACHED_ERROR_CODES = [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];

/**
 * The longest CloudFront keeps an API answer. The API says per answer what may be cached
 * (`Cache-Control: public, max-age=5, s-maxage=5` on the public workshop status, `no-store` on
 * everything else); this only caps a mistaken long max-age.
 */
export const API_MAX_CACHE_SECONDS = 30;

export interface StaticSiteArgs {
  /** The built site (web/dist): every file in it is uploaded. */
  siteDir: string;
  /** Host name of the HTTP API, served under /api/* on the site's own origin. */
  apiDomain: pulumi.Input<string>;
  /** Sent to the API origin as ORIGIN_VERIFY_HEADER: the API answers nothing without it. */
  originVerifySecret: pulumi.Input<string>;
  /** An AWS WAF web ACL (us-east-1, CLOUDFRONT scope) in front of the distribution, if any. */
  webAclArn?: pulumi.Input<string>;
  /** The bucket is named `<bucketPrefix>…`: the only buckets the deploy role may manage (infra/iam). */
  bucketPrefix: string;
  /** The routing function is named `<namePrefix>spa-routing`: the only CloudFront functions the deploy role may change (infra/iam). */
  namePrefix: string;
  contentSecurityPolicy: string;
  domain?: CustomDomain;
  tags?: Record<string, string>;
}

/** One file of the built site, as it is uploaded. */
export interface SiteFile {
  key: string;
  path: string;
  contentType: string;
  cacheControl: string;
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

/** Every file under `dir` with its S3 key, content type and cache policy. */
export function siteFiles(dir: string): SiteFile[] {
  const files: SiteFile[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const path = join(d, entry);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(describeFile(relative(dir, path).split(sep).join("/"), path));
    }
  };
  walk(dir);
  return files;
}

function describeFile(key: string, path: string): SiteFile {
  const contentType = CONTENT_TYPES[extname(key).toLowerCase()] ?? "application/octet-stream";
  // esbuild names assets `name-HASH.ext`: a new build is a new name, so they can be cached for good.
  // Everything else (the HTML shell, catalog.json) must be revalidated so a deploy shows at once.
  const cacheControl = key.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache";
  return { key, path, contentType, cacheControl };
}

/**
 * The viewer-request function that gives the single-page app its routes: a path without a file
 * extension is served the HTML shell (or a folder's own index.html when the build has one). It runs
 * only on the site's behavior, so the API's 401/404 answers reach the browser untouched, which
 * error-page rewrites (403/404 -> index.html) would not allow.
 */
export function spaRoutingFunctionCode(files: SiteFile[]): string {
  const pages: Record<string, string> = {};
  for (const f of files) {
    if (f.key === "index.html") pages["/"] = "/index.html";
    else if (f.key.endsWith("/index.html")) pages[`/${f.key.slice(0, -"/index.html".length)}`] = `/${f.key}`;
  }
  return `var PAGES = ${JSON.stringify(pages)};
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === "/api" || uri.indexOf("/api/") === 0) return request;
  var path = uri.length > 1 && uri.charAt(uri.length - 1) === "/" ? uri.slice(0, -1) : uri;
  if (PAGES[path]) { request.uri = PAGES[path]; return request; }
  var last = path.slice(path.lastIndexOf("/") + 1);
  if (last.indexOf(".") === -1) request.uri = "/index.html";
  return request;
}
`;
}

export interface CspSources {
  /** Origins the page fetches from besides itself (the OpenID issuer and token endpoint). */
  connect: string[];
  /** Origins a form or navigation may post to (managed login). */
  formAction: string[];
}

/** The Content-Security-Policy header: same-origin scripts and styles, no framing, no plugins. */
export function siteContentSecurityPolicy(sources: CspSources): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    `connect-src 'self' ${sources.connect.join(" ")}`.trim(),
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    `form-action 'self' ${sources.formAction.join(" ")}`.trim(),
    "frame-ancestors 'none'",
    "upgrade-insecure-requests",
  ].join("; ");
}

/**
 * The static site: a private bucket (public access blocked, objects owned by the bucket owner,
 * encrypted), read only by this CloudFront distribution through an Origin Access Control; the
 * distribution also serves the API under /api/* so the browser talks to one origin.
 */
export class StaticSite extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly distribution: aws.cloudfront.Distribution;
  readonly headersPolicy: aws.cloudfront.ResponseHeadersPolicy;
  readonly apiCachePolicy: aws.cloudfront.CachePolicy;
  readonly apiOriginRequestPolicy: aws.cloudfront.OriginRequestPolicy;
  readonly routingFunction: aws.cloudfront.Function;
  /** e.g. https://keys.example.org or https://d1234.cloudfront.net */
  readonly origin: pulumi.Output<string>;
  readonly files: SiteFile[];

  constructor(name: string, args: StaticSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:site:StaticSite", name, {}, opts);
    // /config.json belongs to the stack (SiteConfigFile); a build's own copy would fight over the key.
    this.files = siteFiles(args.siteDir).filter((f) => f.key !== "config.json");
    if (!this.files.some((f) => f.key === "index.html")) {
      throw new Error(`the site folder ${args.siteDir} has no index.html; build the site first (npx tsx web/build.ts)`);
    }
    this.bucket = this.createPrivateBucket(name, args.bucketPrefix, args.tags);
    const accessControl = new aws.cloudfront.OriginAccessControl(
      `${name}-oac`,
      { originAccessControlOriginType: "s3", signingBehavior: "always", signingProtocol: "sigv4", description: "Site bucket, read by CloudFront only" },
      { parent: this },
    );
    this.routingFunction = new aws.cloudfront.Function(
      `${name}-spa-routing`,
      { name: `${args.namePrefix}spa-routing`, runtime: "cloudfront-js-2.0", code: spaRoutingFunctionCode(this.files), comment: "Serve the app shell for app routes", publish: true },
      { parent: this },
    );
    this.headersPolicy = this.createHeadersPolicy(name, args.contentSecurityPolicy);
    this.apiCachePolicy = this.createApiCachePolicy(name);
    this.apiOriginRequestPolicy = this.createApiOriginRequestPolicy(name);
    this.distribution = this.createDistribution(name, args, accessControl);
    this.allowOnlyThisDistribution(name);
    this.uploadFiles(name);
    this.origin = args.domain ? pulumi.output(`https://${args.domain.name}`) : pulumi.interpolate`https://${this.distribution.domainName}`;
    this.registerOutputs({ origin: this.origin, bucket: this.bucket.bucket });
  }

  private createPrivateBucket(name: string, bucketPrefix: string, tags: Record<string, string> | undefined): aws.s3.Bucket {
    const bucket = new aws.s3.Bucket(`${name}-bucket`, { bucketPrefix, forceDestroy: true, tags }, { parent: this });
    new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      { parent: this },
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
      { parent: this },
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      { bucket: bucket.id, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
      { parent: this },
    );
    return bucket;
  }

  private createHeadersPolicy(name: string, csp: string): aws.cloudfront.ResponseHeadersPolicy {
    return new aws.cloudfront.ResponseHeadersPolicy(
      `${name}-headers`,
      {
        comment: "Workshop Key Minter security headers",
        securityHeadersConfig: {
          contentSecurityPolicy: { contentSecurityPolicy: csp, override: true },
          strictTransportSecurity: { accessControlMaxAgeSec: 63_072_000, includeSubdomains: true, preload: false, override: true },
          contentTypeOptions: { override: true },
          frameOptions: { frameOption: "DENY", override: true },
          referrerPolicy: { referrerPolicy: "strict-origin-when-cross-origin", override: true },
        },
      },
      { parent: this },
    );
  }

  /**
   * What CloudFront may keep of the API's answers: what the origin's Cache-Control allows and
   * nothing by default (no header, no caching). The Authorization header is part of the key (and so
   * forwarded): a signed-in answer is never served to anyone else; anonymous GETs of the public
   * workshop status share one cached copy per query string for a few seconds.
   */
  private createApiCachePolicy(name: string): aws.cloudfront.CachePolicy {
    return new aws.cloudfront.CachePolicy(
      `${name}-api-cache`,
      {
        comment: "Workshop Key Minter API: honours the origin's Cache-Control, keyed by Authorization",
        minTtl: 0,
        defaultTtl: 0,
        maxTtl: API_MAX_CACHE_SECONDS,
        parametersInCacheKeyAndForwardedToOrigin: {
          // Origin too: an answer carrying one caller's CORS headers must not reach another origin.
          headersConfig: { headerBehavior: "whitelist", headers: { items: ["Authorization", "Origin"] } },
          queryStringsConfig: { queryStringBehavior: "all" },
          cookiesConfig: { cookieBehavior: "none" },
          enableAcceptEncodingGzip: true,
          enableAcceptEncodingBrotli: true,
        },
      },
      { parent: this },
    );
  }

  /**
   * What CloudFront passes on to the API besides the cache key: every viewer header but Host (which
   * must be the API's own) and every query string, and no cookie. The API reads the bearer token,
   * never a cookie, so a cookie of the site's origin (analytics, another app on a custom domain)
   * has no business reaching it.
   */
  private createApiOriginRequestPolicy(name: string): aws.cloudfront.OriginRequestPolicy {
    return new aws.cloudfront.OriginRequestPolicy(
      `${name}-api-request`,
      {
        comment: "Workshop Key Minter API: viewer headers except Host, query strings, no cookies",
        headersConfig: { headerBehavior: "allExcept", headers: { items: ["Host"] } },
        queryStringsConfig: { queryStringBehavior: "all" },
        cookiesConfig: { cookieBehavior: "none" },
      },
      { parent: this },
    );
  }

  private createDistribution(name: string, args: StaticSiteArgs, accessControl: aws.cloudfront.OriginAccessControl): aws.cloudfront.Distribution {
    const siteOrigin = "site-bucket";
    const apiOrigin = "http-api";
    return new aws.cloudfront.Distribution(
      `${name}-cdn`,
      {
        enabled: true,
        comment: "Workshop Key Minter",
        isIpv6Enabled: true,
        httpVersion: "http2and3",
        priceClass: "PriceClass_100",
        defaultRootObject: "index.html",
        aliases: args.domain ? [args.domain.name] : [],
        origins: [
          { originId: siteOrigin, domainName: this.bucket.bucketRegionalDomainName, originAccessControlId: accessControl.id },
          {
            originId: apiOrigin,
            domainName: args.apiDomain,
            customOriginConfig: { originProtocolPolicy: "https-only", httpPort: 80, httpsPort: 443, originSslProtocols: ["TLSv1.2"] },
            // Proof for the API that the request came through this distribution (functions/api/origin-verify.ts).
            customHeaders: [{ name: ORIGIN_VERIFY_HEADER, value: args.originVerifySecret }],
          },
        ],
        defaultCacheBehavior: {
          targetOriginId: siteOrigin,
          viewerProtocolPolicy: "redirect-to-https",
          allowedMethods: ["GET", "HEAD", "OPTIONS"],
          cachedMethods: ["GET", "HEAD"],
          compress: true,
          cachePolicyId: MANAGED_CACHE_POLICY.cachingOptimized,
          responseHeadersPolicyId: this.headersPolicy.id,
          functionAssociations: [{ eventType: "viewer-request", functionArn: this.routingFunction.arn }],
        },
        orderedCacheBehaviors: [
          {
            pathPattern: "/api/*",
            targetOriginId: apiOrigin,
            viewerProtocolPolicy: "https-only",
            allowedMethods: ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            cachedMethods: ["GET", "HEAD"],
            compress: true,
            cachePolicyId: this.apiCachePolicy.id,
            originRequestPolicyId: this.apiOriginRequestPolicy.id,
            responseHeadersPolicyId: this.headersPolicy.id,
          },
        ],
        customErrorResponses: UNCACHED_ERROR_CODES.map((errorCode) => ({ errorCode, errorCachingMinTtl: 0 })),
        restrictions: { geoRestriction: { restrictionType: "none" } },
        webAclId: args.webAclArn,
        viewerCertificate: args.domain
          ? { acmCertificateArn: args.domain.certificateArn, sslSupportMethod: "sni-only", minimumProtocolVersion: "TLSv1.2_2021" }
          : { cloudfrontDefaultCertificate: true },
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /** Reads are granted to the CloudFront service only when the request comes from this distribution. */
  private allowOnlyThisDistribution(name: string): void {
    new aws.s3.BucketPolicy(
      `${name}-bucket-policy`,
      {
        bucket: this.bucket.id,
        policy: pulumi.all([this.bucket.arn, this.distribution.arn]).apply(([bucketArn, distributionArn]) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "CloudFrontReadsThroughOac",
                Effect: "Allow",
                Principal: { Service: "cloudfront.amazonaws.com" },
                Action: "s3:GetObject",
                Resource: `${bucketArn}/*`,
                Condition: { StringEquals: { "AWS:SourceArn": distributionArn } },
              },
              {
                Sid: "DenyPlainHttp",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:*",
                Resource: [bucketArn, `${bucketArn}/*`],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
              },
            ],
          }),
        ),
      },
      { parent: this },
    );
  }

  private uploadFiles(name: string): void {
    for (const file of this.files) {
      new aws.s3.BucketObjectv2(
        `${name}-file-${file.key}`,
        {
          bucket: this.bucket.id,
          key: file.key,
          source: new pulumi.asset.FileAsset(file.path),
          contentType: file.contentType,
          cacheControl: file.cacheControl,
        },
        { parent: this },
      );
    }
  }
}
