import { UpdateCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { WorkshopSchema, type Workshop } from "../../workshops/schema.js";
import { InvalidWorkshopItemError } from "./errors.js";
import type { Partitions } from "./partitions.js";
import { Expression, type Table } from "./table.js";
import { workshopConfigKey } from "./tables.js";

/** The workshop CONFIG items: written by the deploy and the local stack, read by the functions. */

export interface WorkshopRecord {
  config: Workshop;
  /** The guardrail that governs the workshop's keys: assigned to each (governance "assignment"), or its workspace's default guardrail. */
  guardrail_id?: string;
  /** Governance "workspace": the workshop's OpenRouter workspace, where its keys are created. */
  workspace_id?: string;
  /** The deployment's namespace in guardrail and key names (workshops/derive.ts `keyNamePrefix`). */
  key_namespace?: string;
  updated_at?: string;
}

export function parseWorkshopItem(slug: string, item: Record<string, unknown>): WorkshopRecord {
  const parsed = WorkshopSchema.safeParse(item.config);
  if (!parsed.success) throw new InvalidWorkshopItemError(slug, parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "), parsed.error);
  return {
    config: parsed.data,
    ...(typeof item.guardrail_id === "string" && item.guardrail_id ? { guardrail_id: item.guardrail_id } : {}),
    ...(typeof item.workspace_id === "string" && item.workspace_id ? { workspace_id: item.workspace_id } : {}),
    ...(typeof item.key_namespace === "string" && item.key_namespace ? { key_namespace: item.key_namespace } : {}),
    ...(typeof item.updated_at === "string" ? { updated_at: item.updated_at } : {}),
  };
}

export function workshopStore(table: Table, partitions: Pick<Partitions, "learn">) {
  const { doc, W, conditional } = table;

  /** Sets OpenRouter ids on a workshop's existing item (never creates one: the deploy owns it). */
  async function recordIds(op: string, slug: string, ids: Record<string, string>, nowMs: number): Promise<void> {
    const e = new Expression();
    const sets = Object.entries({ ...ids, updated_at: new Date(nowMs).toISOString() }).map(([k, v]) => `${e.name(k)} = ${e.value(v)}`);
    await conditional(op, W, workshopConfigKey(slug), () =>
      doc.send(
        new UpdateCommand({
          TableName: W,
          Key: workshopConfigKey(slug),
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: `attribute_exists(${e.name("pk")})`,
          ...e.params(),
        }),
      ),
    );
  }

  return {
    async getWorkshop(slug: string): Promise<WorkshopRecord | undefined> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: workshopConfigKey(slug) }));
      if (!got.Item) return undefined;
      const record = parseWorkshopItem(slug, got.Item);
      partitions.learn(slug, record.config);
      return record;
    },

    async putWorkshop(slug: string, record: { config: Workshop; guardrail_id?: string; workspace_id?: string; key_namespace?: string }, nowMs: number): Promise<void> {
      await doc.send(
        new PutCommand({
          TableName: W,
          Item: {
            ...workshopConfigKey(slug),
            config: record.config,
            guardrail_id: record.guardrail_id,
            workspace_id: record.workspace_id,
            key_namespace: record.key_namespace,
            updated_at: new Date(nowMs).toISOString(),
          },
        }),
      );
      partitions.learn(slug, record.config);
    },

    /** Records the workspace (governance "workspace") and its default guardrail, found or created for a workshop whose item lacks them. */
    setWorkspace: (slug: string, ids: { workspaceId: string; guardrailId: string }, nowMs: number) =>
      recordIds("setWorkspace", slug, { workspace_id: ids.workspaceId, guardrail_id: ids.guardrailId }, nowMs),

    /** Records the guardrail found or created for a workshop whose item has none yet. */
    setGuardrailId: (slug: string, guardrailId: string, nowMs: number) => recordIds("setGuardrailId", slug, { guardrail_id: guardrailId }, nowMs),
  };
}
