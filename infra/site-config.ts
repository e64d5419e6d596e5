import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** /config.json as the web app reads it (web/src/types.ts SiteConfig). */
export interface SiteRuntimeConfig {
  apiUrl: string;
  mode: "cloud";
  openrouterBaseUrl: string;
  auth: { issuer: string; clientId: string; redirectUri: string; scope: string; logoutUri: string };
}

export interface SiteConfigFileArgs {
  bucket: aws.s3.Bucket;
  config: pulumi.Input<SiteRuntimeConfig>;
}

/**
 * The site's /config.json: where the API is and how to sign in. Written by the deploy rather than
 * baked into the bundle, so the same build runs locally and in every stack.
 */
export class SiteConfigFile extends pulumi.ComponentResource {
  readonly object: aws.s3.BucketObjectv2;

  constructor(name: string, args: SiteConfigFileArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:site:SiteConfigFile", name, {}, opts);
    this.object = new aws.s3.BucketObjectv2(
      `${name}-object`,
      {
        bucket: args.bucket.id,
        key: "config.json",
        content: pulumi.output(args.config).apply((c) => JSON.stringify(c, null, 2)),
        contentType: "application/json",
        cacheControl: "no-cache",
      },
      { parent: this },
    );
    this.registerOutputs({ key: this.object.key });
  }
}
