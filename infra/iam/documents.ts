import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The IAM documents a stack's one-time setup creates by hand, committed as JSON next to this file
 * with `{{PLACEHOLDER}}`s: the trust and permission policies of the two roles GitHub Actions
 * assumes (a read-only preview role for pull requests, a deploy role for merges) and the
 * permissions boundary every role the program creates must carry. `renderIamDocument` fills them
 * in for one repository, account and stack; `npm run infra:iam` writes them out (render.ts).
 *
 * The names the program gives its own roles and bucket come from here too (`resourcePrefix`), so
 * the deploy policy's `role/<prefix>*` pattern and the program cannot drift apart.
 */

export const IAM_DIR = dirname(fileURLToPath(import.meta.url));

export const IAM_DOCUMENTS = ["preview-trust", "preview-policy", "deploy-trust", "deploy-policy", "role-boundary"] as const;
export type IamDocumentName = (typeof IAM_DOCUMENTS)[number];

export interface IamTarget {
  /** The GitHub repository, `owner/name`. */
  repository: string;
  /** The 12-digit AWS account id. */
  accountId: string;
  /** The Pulumi stack's name without its organization (what `pulumi stack --show-name` prints). */
  stack: string;
  /** The S3 bucket that holds the Pulumi state, for an S3 backend; none for Pulumi Cloud. */
  stateBucket?: string;
}

export class IamTemplateError extends Error {
  override name = "IamTemplateError";
}

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource?: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

// Letters, digits and single dashes only: a stack's own part of the prefix never contains `--`,
// so `wkm-prod--` is not a prefix of another stack's `wkm-prod-eu--`.
const MAX_STACK_PART = 20;

/**
 * What every role and the site bucket of a stack are named with: `wkm-<stack>--`. IAM role name
 * prefixes may be 38 characters and bucket prefixes 37; the longest use (`<prefix>scheduler-`) fits.
 */
export function resourcePrefix(stack: string): string {
  const part = stack
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_STACK_PART)
    .replace(/-+$/, "");
  return `wkm-${part || "stack"}--`;
}

/** The managed policy every role the program creates carries as its permissions boundary. */
export function roleBoundaryName(stack: string): string {
  return `${resourcePrefix(stack)}boundary`;
}

export function roleBoundaryArn(accountId: string, stack: string): string {
  return `arn:aws:iam::${accountId}:policy/${roleBoundaryName(stack)}`;
}

/** The roles GitHub Actions assumes. Deliberately outside `resourcePrefix`: the deploy role cannot touch itself. */
export function ciRoleName(kind: "deploy" | "preview", stack: string): string {
  return `github-${kind}-${resourcePrefix(stack).replace(/-+$/, "")}`;
}

function checkTarget(target: IamTarget): string[] {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(target.repository)) problems.push(`--repo must be the GitHub repository as owner/name, got "${target.repository}"`);
  if (!/^\d{12}$/.test(target.accountId)) problems.push(`--account must be the 12-digit AWS account id (aws sts get-caller-identity), got "${target.accountId}"`);
  if (!/^[A-Za-z0-9._-]+$/.test(target.stack)) problems.push(`--stack must be the Pulumi stack's name without its organization (e.g. prod), got "${target.stack}"`);
  if (target.stateBucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(target.stateBucket)) {
    problems.push(`--state-bucket must be an S3 bucket name (the one in pulumi login s3://…), got "${target.stateBucket}"`);
  }
  return problems;
}

/** One committed document, as written (placeholders in place). */
export function iamTemplate(name: IamDocumentName): string {
  return readFileSync(join(IAM_DIR, `${name}.json`), "utf8");
}

/**
 * A document filled in for one target. Without a state bucket (Pulumi Cloud) the statements about
 * it (Sid `StateBucket…`) are left out.
 */
export function renderIamDocument(name: IamDocumentName, target: IamTarget): PolicyDocument {
  const problems = checkTarget(target);
  if (problems.length > 0) throw new IamTemplateError(problems.join("\n"));
  const [owner, repo] = target.repository.split("/");
  const values: Record<string, string> = {
    OWNER: owner,
    REPO: repo,
    ACCOUNT: target.accountId,
    STACK: target.stack,
    PREFIX: resourcePrefix(target.stack),
    STATE_BUCKET: target.stateBucket ?? "",
  };
  const text = iamTemplate(name).replace(/\{\{([A-Z_]+)\}\}/g, (whole, key: string) => {
    if (!(key in values)) throw new IamTemplateError(`${name}.json has an unknown placeholder ${whole}`);
    return values[key];
  });
  const document = JSON.parse(text) as PolicyDocument;
  if (!target.stateBucket) document.Statement = document.Statement.filter((s) => !s.Sid?.startsWith("StateBucket"));
  return document;
}
