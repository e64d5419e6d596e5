import { resolve } from "node:path";
import { buildSite } from "../web/build.js";
import { loadWorkshops } from "../workshops/load.js";
import { REPO_ROOT } from "./bundle.js";
import { readStackSettings } from "./settings.js";
import { workshopKeyMinter } from "./stack.js";

// The Pulumi entry point: read the stack's settings and the workshop files (every problem of every
// file is reported before anything is created), build the site, declare the stack.
const settings = readStackSettings();
const workshops = loadWorkshops();
// Its own folder (not web/dist, which the local stack serves), so a deploy never races `npm start`.
const site = await buildSite({ workshops, outDir: resolve(REPO_ROOT, "dist", "site") });

const outputs = workshopKeyMinter({ workshops, settings, siteDir: site.outDir, now: Date.now() });

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
