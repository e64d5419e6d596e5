import type { GuardrailSpec } from "../../workshops/derive.js";
import type { WorkspaceSpec } from "../../workshops/workspace.js";

/**
 * What the product needs from OpenRouter's Management API. The claim engine, the jobs, the local
 * stack and the infrastructure all code against this interface; `client.ts` implements it over
 * `fetch`, and every test drives it against the emulator in `local/emulator/` (whose answers the
 * official SDK checks in `local/emulator/sdk.test.ts`).
 */

/** A key as the Management API describes it (never the secret itself). */
export interface KeyInfo {
  hash: string;
  name: string;
  label: string;
  disabled: boolean;
  limit: number | null;
  limit_remaining: number | null;
  usage: number;
  created_at: string;
  updated_at: string | null;
  expires_at: string | null;
}

/** The one response that carries the plaintext key: POST /keys. */
export interface CreatedKey extends KeyInfo {
  key: string;
}

export interface Guardrail {
  id: string;
  name: string;
  description: string | null;
  allowed_models: string[] | null;
  limit_usd: number | null;
  reset_interval: string | null;
}

/** An OpenRouter workspace (organization accounts): its default guardrail governs every key in it. */
export interface Workspace {
  id: string;
  name: string;
  slug: string;
  description: string | null;
  default_guardrail_id: string;
}

/** A workshop's workspace, ensured: where its keys are created and the guardrail that governs them. */
export interface WorkshopWorkspace {
  workspaceId: string;
  guardrailId: string;
}

/** Which workspace a listing reads (the client's own, else the default workspace, when unset). */
export interface ListKeysOptions {
  includeDisabled?: boolean;
  workspaceId?: string;
}

export interface CreateKeyInput {
  name: string;
  /** USD hard limit. */
  limit: number;
  /** UTC with seconds, e.g. 2026-04-14T13:15:00Z. */
  expires_at: string;
  /** Create the key in this workspace (its default guardrail governs it); the client's own when unset. */
  workspace_id?: string;
}

export interface UpdateKeyInput {
  name?: string;
  disabled?: boolean;
  limit?: number;
}

export interface Credits {
  total_credits: number;
  total_usage: number;
}

export interface OpenRouterClient {
  /** Finds the guardrail by name or creates it; corrects allowlist/limit drift in place. Idempotent. */
  ensureGuardrail(spec: GuardrailSpec): Promise<Guardrail>;
  getGuardrail(id: string): Promise<Guardrail>;
  findGuardrailByName(name: string): Promise<Guardrail | undefined>;
  createGuardrail(spec: GuardrailSpec): Promise<Guardrail>;
  updateGuardrail(id: string, spec: Partial<GuardrailSpec>): Promise<Guardrail>;
  /** Resolves false when it was already gone (404). */
  deleteGuardrail(id: string): Promise<boolean>;

  createKey(input: CreateKeyInput): Promise<CreatedKey>;
  /** Bulk-assigns keys to a guardrail (a key holds one guardrail; re-assigning is safe). */
  assignKeys(guardrailId: string, hashes: string[]): Promise<{ assigned_count: number }>;
  /** Hashes of the keys assigned to the guardrail (every page). */
  listGuardrailKeyHashes(guardrailId: string): Promise<string[]>;
  getKey(hash: string): Promise<KeyInfo>;
  /** One page of 100 keys starting at `offset`. */
  listKeysPage(offset: number, opts?: ListKeysOptions): Promise<KeyInfo[]>;
  /** Every key, following 100-key pages by offset until a short page. */
  listAllKeys(opts?: ListKeysOptions): Promise<KeyInfo[]>;
  updateKey(hash: string, patch: UpdateKeyInput): Promise<KeyInfo>;
  /** Resolves false when it was already gone (404). */
  deleteKey(hash: string): Promise<boolean>;
  getCredits(): Promise<Credits>;

  /** POST /workspaces: a personal account's 403 is `GovernanceUnavailableError`. */
  createWorkspace(spec: Pick<WorkspaceSpec, "name" | "slug" | "description">): Promise<Workspace>;
  /** By id or slug; NotFoundError when there is none. */
  getWorkspace(idOrSlug: string): Promise<Workspace>;
  /** Resolves false when it was already gone (404); upstream refuses (400) while it holds keys. */
  deleteWorkspace(idOrSlug: string): Promise<boolean>;
  /** Finds (by slug) or creates the workshop's workspace and configures its default guardrail to the spec, checked. Idempotent. */
  ensureWorkspace(spec: WorkspaceSpec): Promise<WorkshopWorkspace>;
}
