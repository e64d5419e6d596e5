import * as z from "zod/mini";
import { toUtcSeconds } from "../../workshops/derive.js";
import { InvalidRequestError } from "./errors.js";
import { definedFields, deleted, type Call } from "./request.js";
import type { CreateKeyInput, CreatedKey, KeyInfo, OpenRouterClient, UpdateKeyInput } from "./types.js";

/** GET /keys answers 100 keys per page; a shorter page is the last. */
export const KEYS_PAGE_SIZE = 100;

// Only the fields read here; upstream sends more.
const nullableNumber = z.nullable(z.number());
const KeySchema = z.object({
  hash: z.string(),
  name: z.string(),
  label: z.string(),
  disabled: z.boolean(),
  limit: nullableNumber,
  limit_remaining: nullableNumber,
  usage: z.number(),
  created_at: z.string(),
  updated_at: z.nullable(z.string()),
  expires_at: z.optional(z.nullable(z.string())),
});
const KeyAnswer = z.object({ data: KeySchema });
const CreatedKeyAnswer = z.object({ data: KeySchema, key: z.string() });
const KeysPage = z.object({ data: z.array(KeySchema) });
const AnyAnswer = z.unknown();

type KeyOperations = Pick<OpenRouterClient, "createKey" | "getKey" | "listKeysPage" | "listAllKeys" | "updateKey" | "deleteKey">;

/** `/keys`: the attendees' keys, in the client's workspace unless a call names one. */
export function keyOperations(call: Call, workspace: { workspace_id?: string }): KeyOperations {
  const keys: KeyOperations = {
    // POST /keys is not idempotent: a retry after a timeout or 5xx that upstream did act on leaves a
    // second key with the same name. That key's plaintext was never seen, so it cannot be spent; the
    // sync job's orphan sweep (keys under the workshop prefix whose hash no claim holds) deletes it.
    async createKey(input: CreateKeyInput): Promise<CreatedKey> {
      const expiresAt = Date.parse(input.expires_at);
      if (Number.isNaN(expiresAt)) {
        throw new InvalidRequestError(`expires_at "${input.expires_at}" is not a date`, { endpoint: "POST /keys" });
      }
      const res = await call(
        "keys.create",
        "POST /keys",
        // UTC with seconds: upstream refuses minute precision.
        { method: "POST", path: "/keys", body: { name: input.name, limit: input.limit, expires_at: toUtcSeconds(expiresAt), ...workspace, ...(input.workspace_id ? { workspace_id: input.workspace_id } : {}) } },
        CreatedKeyAnswer,
      );
      return { ...toKeyInfo(res.data), key: res.key };
    },

    async getKey(hash) {
      const res = await call("keys.get", "GET /keys/{hash}", { method: "GET", path: `/keys/${encodeURIComponent(hash)}` }, KeyAnswer);
      return toKeyInfo(res.data);
    },

    async listKeysPage(offset, pageOpts) {
      const res = await call(
        "keys.list",
        "GET /keys",
        { method: "GET", path: "/keys", query: {
            offset,
            ...(pageOpts?.includeDisabled ? { include_disabled: "true" } : {}),
            ...workspace,
            ...(pageOpts?.workspaceId ? { workspace_id: pageOpts.workspaceId } : {}),
          },
        },
        KeysPage,
      );
      return res.data.map(toKeyInfo);
    },

    async listAllKeys(listOpts) {
      const all: KeyInfo[] = [];
      for (let offset = 0; ; ) {
        const page = await keys.listKeysPage(offset, listOpts);
        all.push(...page);
        offset += page.length;
        if (page.length < KEYS_PAGE_SIZE) return all;
      }
    },

    async updateKey(hash, patch: UpdateKeyInput) {
      const res = await call("keys.update", "PATCH /keys/{hash}", { method: "PATCH", path: `/keys/${encodeURIComponent(hash)}`, body: definedFields(patch) }, KeyAnswer);
      return toKeyInfo(res.data);
    },

    async deleteKey(hash) {
      return deleted(call("keys.delete", "DELETE /keys/{hash}", { method: "DELETE", path: `/keys/${encodeURIComponent(hash)}` }, AnyAnswer));
    },
  };
  return keys;
}

function toKeyInfo(k: z.output<typeof KeySchema>): KeyInfo {
  const expires = k.expires_at ? Date.parse(k.expires_at) : Number.NaN;
  return {
    hash: k.hash,
    name: k.name,
    label: k.label,
    disabled: k.disabled,
    limit: k.limit,
    limit_remaining: k.limit_remaining,
    usage: k.usage,
    created_at: k.created_at,
    updated_at: k.updated_at,
    expires_at: Number.isNaN(expires) ? null : toUtcSeconds(expires),
  };
}
