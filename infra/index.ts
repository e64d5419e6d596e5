import * as aws from "@pulumi/aws";
import { resolve } from "node:path";
import { buildSite } from "../web/build.js";
import { loadWorkshops } from "../workshops/load.js";
import { REPO_ROOT } from "./bundle.js";
import { readStackSettings } from "./settings.js";
import { workshopKeyMinter } from "./stack.js";

// The Pulumi entry point: read the workshop files and the stack's settings (every problem of every
// file is reported before anything is created), build the site, declare the stack.
const now = Date.now();
const workshops = loadWorkshops();
const { accountId } = await aws.getCallerIdentity();
const settings = readStackSettings({ accountId, workshops, now });
// Its own folder (not web/dist, which the local stack serves), so a deploy never races `npm start`.
const site = await buildSite({ workshops, outDir: resolve(REPO_ROOT, "dist", "site") });

const outputs = workshopKeyMinter({ workshops, settings, siteDir: site.outDir, now });

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
  managementKeySecretArn,
  managementKeySecretName,
  attendeesTable,
  workshopsTable,
  apiFunction,
  jobsFunction,
  scheduleGroup,
  deadLetterQueueUrl,
  guardrailIds,
} = outputs;
