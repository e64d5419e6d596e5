import * as aws from "@pulumi/aws";
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { buildSite } from "../web/build.js";
import { loadWorkshops } from "../workshops/load.js";
import { REPO_ROOT } from "./bundle.js";
import { readStackSettings } from "./settings.js";
import { siteCspSources, workshopKeyMinter } from "./stack.js";

// The Pulumi entry point: read the workshop files and the stack's settings (every problem of every
// file is reported before anything is created), build the site, declare the stack.
// The deploy's clock. Only the mock preview sets WKM_DEPLOY_NOW (its `--now`), to show what a deploy
// on another day would declare: which schedules lie ahead, which workshops are history.
const now = process.env.WKM_DEPLOY_NOW ? Date.parse(process.env.WKM_DEPLOY_NOW) : Date.now();
if (Number.isNaN(now)) throw new Error(`WKM_DEPLOY_NOW must be an ISO time, got ${process.env.WKM_DEPLOY_NOW}`);
const workshops = loadWorkshops();
const { accountId } = await aws.getCallerIdentity();
const settings = readStackSettings({ accountId, workshops, now });
// Its own folder (not web/dist, which the local stack serves), so a deploy never races `npm start`;
// the page's own CSP allows exactly this stack's sign-in origins, nothing on loopback.
const site = await buildSite({
  workshops,
  outDir: resolve(REPO_ROOT, "dist", "site"),
  connectSources: siteCspSources(settings).connect,
  generatedAt: sourceDate(),
});

const outputs = workshopKeyMinter({ workshops, settings, siteDir: site.outDir, now, accountId });

export const {
  siteUrl,
  apiUrl,
  apiEndpoint,
  distributionDomain,
  distributionId,
  siteBucket,
  userPoolId,
  authClientId,
  authIssuer,
  loginOrigin,
  managementKeySecretName,
  attendeesTable,
  workshopsTable,
  apiFunction,
  jobsFunction,
  scheduleGroup,
  deadLetterQueueUrl,
  guardrailIds,
  workspaceIds,
} = outputs;

/**
 * When the source was written, so the same commit builds the same bytes (a preview and the deploy
 * of one commit upload identical files): SOURCE_DATE_EPOCH (the reproducible-builds convention) if
 * set, else the last commit's time, else now (no git).
 */
function sourceDate(): Date {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  if (Number.isInteger(epoch) && epoch > 0) return new Date(epoch * 1000);
  try {
    const committed = Number(execFileSync("git", ["log", "-1", "--format=%ct"], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    if (Number.isInteger(committed) && committed > 0) return new Date(committed * 1000);
  } catch {
    // Not a git checkout (an unpacked archive): the build's own time.
  }
  return new Date(now);
}
