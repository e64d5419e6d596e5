import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface ManagementKeySecretArgs {
  /** The secret's name in Secrets Manager, e.g. workshop-key-minter/prod/openrouter-management-key. */
  secretName: string;
  tags?: Record<string, string>;
}

/**
 * The Secrets Manager secret that holds the OpenRouter management key for the functions. Only the
 * container exists here: the organizer puts the value once with `aws secretsmanager
 * put-secret-value`, so the key is never in the repository, the program or the Pulumi state.
 */
export class ManagementKeySecret extends pulumi.ComponentResource {
  readonly secret: aws.secretsmanager.Secret;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: ManagementKeySecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:secrets:ManagementKeySecret", name, {}, opts);
    this.secret = new aws.secretsmanager.Secret(
      `${name}-secret`,
      {
        name: args.secretName,
        description: "OpenRouter management key used by the Workshop Key Minter functions to mint and sync attendee keys",
        // A mistaken `pulumi destroy` should be recoverable for a week.
        recoveryWindowInDays: 7,
        tags: args.tags,
      },
      { parent: this },
    );
    this.arn = this.secret.arn;
    this.registerOutputs({ arn: this.arn });
  }
}
