import { createHash } from "node:crypto";
import { guardrailSpec, type GuardrailSpec } from "./derive.js";
import type { Workshop } from "./schema.js";

/**
 * A workshop's OpenRouter workspace (governance "workspace", derive.ts `GovernanceMode`): its slug
 * and what its default guardrail carries. Node only (a hash from node:crypto), apart from derive.ts,
 * which the browser bundle imports too.
 */

export interface WorkspaceSpec {
  /** Deterministic per (namespace, workshop): the workspace is found again by it. */
  slug: string;
  name: string;
  description: string;
  /** What the workspace's default guardrail must carry. */
  guardrail: GuardrailSpec;
}

const WORKSPACE_SLUG_MAX = 64;

/**
 * The workshop's workspace slug: upstream allows lowercase alphanumeric segments joined by single
 * hyphens. Workshop slugs and namespaces may hold hyphen runs, and "a-b"+"c" reads like "a"+"b-c",
 * so a short hash of the exact pair keeps two workshops (or deployments) apart.
 */
export function workspaceSlug(slug: string, namespace?: string): string {
  const hash = createHash("sha256").update(`${namespace ?? ""}\n${slug}`).digest("hex").slice(0, 8);
  const readable = `workshop-${slug}${namespace ? `-${namespace}` : ""}`.replace(/-+/g, "-").replace(/^-|-$/g, "");
  return `${readable.slice(0, WORKSPACE_SLUG_MAX - hash.length - 1).replace(/-$/, "")}-${hash}`;
}

/** The workshop's OpenRouter workspace (governance "workspace"): its default guardrail is `guardrailSpec`. */
export function workspaceSpec(w: Workshop, namespace?: string): WorkspaceSpec {
  const guardrail = guardrailSpec(w, namespace);
  return { slug: workspaceSlug(w.slug, namespace), name: guardrail.name.slice(0, 100), description: guardrail.description, guardrail };
}
