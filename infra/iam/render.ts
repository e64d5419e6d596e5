/**
 * Writes the IAM documents of one stack's one-time setup, filled in, and prints the AWS CLI
 * commands that create the boundary and the two roles from them (README, Deploy, step 2).
 *
 *   npm run -s infra:iam -- --repo OWNER/REPO --account 123456789012 --stack prod [--state-bucket NAME] [--out DIR]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ciRoleName, IAM_DOCUMENTS, IamTemplateError, renderIamDocument, roleBoundaryName, type IamTarget } from "./documents.js";

export const DEFAULT_OUT_DIR = "iam-rendered";

/**
 * The repository's OIDC subject, customised so the token names the workflow file and ref that asked
 * for it (`repo:O/R:environment:production:job_workflow_ref:O/R/.github/workflows/deploy.yml@refs/heads/main`):
 * the deploy role trusts that subject only, so a pull request that adds `environment: production` to
 * its own workflow gets a token the role refuses (GitHub, "Customizing the subject claims").
 */
export const oidcSubjectCustomization = { use_default: false, include_claim_keys: ["repo", "context", "job_workflow_ref"] };

/** The commands that set up GitHub and create what the documents describe, in the order they must run. */
export function setupCommands(target: IamTarget, outDir: string): string[] {
  const file = (name: string) => `file://${join(outDir, `${name}.json`)}`;
  const deploy = ciRoleName("deploy", target.stack);
  const preview = ciRoleName("preview", target.stack);
  const repo = `repos/${target.repository}`;
  return [
    `echo '${JSON.stringify(oidcSubjectCustomization)}' | gh api -X PUT ${repo}/actions/oidc/customization/sub --input -`,
    // The production environment releases its secrets and its token to main only.
    `echo '{"deployment_branch_policy":{"protected_branches":false,"custom_branch_policies":true}}' | gh api -X PUT ${repo}/environments/production --input -`,
    `gh api -X POST ${repo}/environments/production/deployment-branch-policies -f name=main -f type=branch`,
    `gh api -X PUT ${repo}/environments/preview`,
    `aws iam create-policy --policy-name ${roleBoundaryName(target.stack)} --description "Upper bound of every role the Workshop Key Minter stack ${target.stack} creates" --policy-document ${file("role-boundary")}`,
    `aws iam create-role --role-name ${deploy} --assume-role-policy-document ${file("deploy-trust")}`,
    `aws iam put-role-policy --role-name ${deploy} --policy-name workshop-key-minter-deploy --policy-document ${file("deploy-policy")}`,
    `aws iam create-role --role-name ${preview} --assume-role-policy-document ${file("preview-trust")}`,
    `aws iam put-role-policy --role-name ${preview} --policy-name workshop-key-minter-preview --policy-document ${file("preview-policy")}`,
  ];
}

/** Renders every document into `outDir`; returns the files written. */
export function writeIamDocuments(target: IamTarget, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  return IAM_DOCUMENTS.map((name) => {
    const path = join(outDir, `${name}.json`);
    writeFileSync(path, `${JSON.stringify(renderIamDocument(name, target), null, 2)}\n`);
    return path;
  });
}

const USAGE = "Usage: npm run -s infra:iam -- --repo OWNER/REPO --account 123456789012 --stack prod [--state-bucket NAME] [--out DIR]";

function main(argv: string[]): number {
  let values: { repo?: string; account?: string; stack?: string; "state-bucket"?: string; out?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        repo: { type: "string" },
        account: { type: "string" },
        stack: { type: "string" },
        "state-bucket": { type: "string" },
        out: { type: "string", default: DEFAULT_OUT_DIR },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const target: IamTarget = { repository: values.repo ?? "", accountId: values.account ?? "", stack: values.stack ?? "", stateBucket: values["state-bucket"] };
  const outDir = values.out!;
  try {
    const written = writeIamDocuments(target, resolve(outDir));
    console.log(`Wrote ${written.length} IAM documents into ${outDir}/. Set up GitHub (gh, as a repository admin) and create the boundary and the roles with:\n`);
    for (const command of setupCommands(target, outDir)) console.log(`${command}\n`);
    console.log(`Then set the repository variables AWS_DEPLOY_ROLE_ARN=arn:aws:iam::${target.accountId}:role/${ciRoleName("deploy", target.stack)} and AWS_PREVIEW_ROLE_ARN=arn:aws:iam::${target.accountId}:role/${ciRoleName("preview", target.stack)}.`);
    return 0;
  } catch (err) {
    if (!(err instanceof IamTemplateError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
