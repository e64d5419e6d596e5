import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CATALOG_KEY, catalogEntries, workshopConfigKey } from "../functions/data/tables.js";
import { guardrailSpec, keyExpiresAt, type GovernanceMode } from "../workshops/derive.js";
import { workspaceSpec } from "../workshops/workspace.js";
import type { Workshop } from "../workshops/schema.js";
import { OpenRouterGuardrail } from "./guardrail.js";
import { OpenRouterWorkspace } from "./workspace.js";

export interface WorkshopDeploymentArgs {
  workshop: Workshop;
  workshopsTable: { name: pulumi.Input<string>; hashKey: string; rangeKey: string };
  openrouterBaseUrl: string;
  /**
   * This deployment's namespace in attendee key names (derive.ts `keyNamePrefix`): two stacks, or a
   * stack and a local rehearsal, sharing one OpenRouter account never sweep each other's keys.
   */
  keyNamespace: string;
  /** The stack's `governance` setting: a guardrail per workshop (assignment) or a workspace per workshop (workspace). */
  governance: GovernanceMode;
  /**
   * False for a workshop whose keys had expired when the deploy ran (`isHistory`): no guardrail for
   * it, only the item the organizer dashboard reads.
   */
  live: boolean;
}

/**
 * A workshop is history once its keys have expired: its jobs have run, nothing can be claimed or
 * spent. A deploy then touches nothing outside the table for it: no guardrail on OpenRouter, no
 * schedules, no invitation email. So a fork's first deploy does nothing for the past workshops its
 * files describe, and a running stack drops the guardrail and schedules of a workshop after it.
 */
export function isHistory(w: Workshop, now: number): boolean {
  return Date.parse(keyExpiresAt(w)) <= now;
}

/** A DynamoDB attribute value in the low-level JSON form TableItem takes. */
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { L: AttributeValue[] }
  | { M: Record<string, AttributeValue> };

/** Marshals plain data (what YAML produces) the way the functions' DocumentClient reads it back. */
export function toAttributeValue(value: unknown): AttributeValue {
  if (value === null) return { NULL: true };
  if (typeof value === "string") return { S: value };
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`cannot store ${value} in DynamoDB`);
    return { N: String(value) };
  }
  if (typeof value === "boolean") return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttributeValue) };
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return { M: Object.fromEntries(entries.map(([k, v]) => [k, toAttributeValue(v)])) };
  }
  throw new TypeError(`cannot store a ${typeof value} in DynamoDB`);
}

/**
 * What one workshop file becomes: its OpenRouter guardrail (the model allowlist), or under governance
 * "workspace" its OpenRouter workspace (whose default guardrail carries the allowlist), and the
 * workshop item the functions read, `{...workshopConfigKey(slug), config, guardrail_id, workspace_id?,
 * key_namespace}`. Functions never parse YAML; this item is their copy of the file.
 */
export class WorkshopDeployment extends pulumi.ComponentResource {
  /** None for a workshop that is history. */
  readonly guardrail?: OpenRouterGuardrail;
  /** Governance "workspace" only; none for a workshop that is history. */
  readonly workspace?: OpenRouterWorkspace;
  /** The guardrail that governs the workshop's keys (either kind), as recorded on the item. */
  readonly guardrailId?: pulumi.Output<string>;
  readonly item: aws.dynamodb.TableItem;

  constructor(name: string, args: WorkshopDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:workshops:WorkshopDeployment", name, {}, opts);
    const w = args.workshop;
    if (args.live && args.governance === "workspace") {
      const spec = workspaceSpec(w, args.keyNamespace);
      this.workspace = new OpenRouterWorkspace(
        `${name}-workspace`,
        {
          slug: spec.slug,
          name: spec.name,
          description: spec.description,
          guardrailName: spec.guardrail.name,
          allowedModels: spec.guardrail.allowed_models,
          limitUsd: spec.guardrail.limit_usd,
          resetInterval: spec.guardrail.reset_interval,
          baseUrl: args.openrouterBaseUrl,
        },
        { parent: this },
      );
      this.guardrailId = this.workspace.guardrailId;
    } else if (args.live) {
      const spec = guardrailSpec(w, args.keyNamespace);
      this.guardrail = new OpenRouterGuardrail(
        `${name}-guardrail`,
        {
          name: spec.name,
          description: spec.description,
          allowedModels: spec.allowed_models,
          limitUsd: spec.limit_usd,
          resetInterval: spec.reset_interval,
          baseUrl: args.openrouterBaseUrl,
        },
        { parent: this },
      );
      this.guardrailId = this.guardrail.guardrailId;
    }
    const { hashKey, rangeKey } = args.workshopsTable;
    const key = workshopConfigKey(w.slug);
    this.item = new aws.dynamodb.TableItem(
      `${name}-item`,
      {
        tableName: args.workshopsTable.name,
        hashKey,
        rangeKey,
        item: pulumi.all([this.guardrailId, this.workspace?.workspaceId]).apply(([guardrailId, workspaceId]) =>
          JSON.stringify({
            [hashKey]: { S: key.pk },
            [rangeKey]: { S: key.sk },
            config: toAttributeValue(w),
            ...(guardrailId ? { guardrail_id: { S: guardrailId } } : {}),
            ...(workspaceId ? { workspace_id: { S: workspaceId } } : {}),
            key_namespace: { S: args.keyNamespace },
          }),
        ),
      },
      { parent: this },
    );
    this.registerOutputs({ guardrailId: this.guardrailId, workspaceId: this.workspace?.workspaceId });
  }
}

/**
 * The deployment's workshop index (functions/data/tables.ts): one item listing every workshop's
 * slug, claim window and organizers, so the API never scans the table to list workshops.
 */
export function workshopIndexItem(
  name: string,
  args: { workshops: readonly Workshop[]; workshopsTable: WorkshopDeploymentArgs["workshopsTable"] },
  opts?: pulumi.CustomResourceOptions,
): aws.dynamodb.TableItem {
  const { hashKey, rangeKey } = args.workshopsTable;
  return new aws.dynamodb.TableItem(
    name,
    {
      tableName: args.workshopsTable.name,
      hashKey,
      rangeKey,
      item: JSON.stringify({
        [hashKey]: { S: CATALOG_KEY.pk },
        [rangeKey]: { S: CATALOG_KEY.sk },
        workshops: toAttributeValue(catalogEntries(args.workshops)),
      }),
    },
    opts,
  );
}
