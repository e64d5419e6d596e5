import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface StackSecretArgs {
  /** The secret's name in Secrets Manager, e.g. workshop-key-minter/prod/openrouter-management-key. */
  secretName: string;
  description: string;
  /** What the deploy puts in it (a Pulumi secret); none: the container only, filled by hand. */
  value?: pulumi.Input<string>;
  tags?: Record<string, string>;
}

/**
 * A Secrets Manager secret the deploy fills and the functions read once per container
 * (functions/config.ts), so no Lambda environment carries a secret in the clear. Named
 * `workshop-key-minter/<stack>/…`: the only secrets the stack's roles may read (infra/iam/role-boundary.json).
 */
export class StackSecret extends pulumi.ComponentResource {
  readonly secret: aws.secretsmanager.Secret;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: StackSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:secrets:StackSecret", name, {}, opts);
    this.secret = new aws.secretsmanager.Secret(
      `${name}-secret`,
      {
        name: args.secretName,
        description: args.description,
        // A mistaken `pulumi destroy` should be recoverable for a week.
        recoveryWindowInDays: 7,
        tags: args.tags,
      },
      { parent: this },
    );
    if (args.value !== undefined) {
      new aws.secretsmanager.SecretVersion(`${name}-value`, { secretId: this.secret.id, secretString: pulumi.secret(args.value) }, { parent: this });
    }
    this.arn = this.secret.arn;
    this.registerOutputs({ arn: this.arn });
  }
}

/**
 * The secret that holds the OpenRouter management key: its one copy. You create it, with its value,
 * in the one-time setup (README) before the first deploy, because that deploy already needs the key
 * (the guardrail provider, .github/workflows/deploy.yml reads it with the deploy role); the program
 * only names it, so the key is never in the repository, the program, the Pulumi state or GitHub.
 */
export function managementKeySecretName(stack: string): string {
  return `workshop-key-minter/${stack}/openrouter-management-key`;
}

/** The secret's ARN as an IAM pattern: Secrets Manager appends `-` and six random characters to the name. */
export function managementKeySecretArnPattern(region: string, accountId: string, stack: string): string {
  return `arn:aws:secretsmanager:${region}:${accountId}:secret:${managementKeySecretName(stack)}-??????`;
}

/**
 * The value CloudFront sends in its origin-verify header, for the API function to compare with
 * (functions/api/origin-verify.ts). The deploy writes it; it lives in the state as a Pulumi secret.
 */
export function originVerifySecret(name: string, stack: string, value: pulumi.Input<string>, tags: Record<string, string>): StackSecret {
  return new StackSecret(name, {
    secretName: `workshop-key-minter/${stack}/origin-verify`,
    description: "The header value CloudFront sends the Workshop Key Minter API, proving a request came through the site",
    value,
    tags,
  });
}
