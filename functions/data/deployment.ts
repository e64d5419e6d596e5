import { randomBytes } from "node:crypto";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { StoreError } from "./errors.js";
import { isConditionalFailure, type Table } from "./table.js";
import { CREDITS_SK, DEPLOYMENT_PK, ROOM_CODE_SECRET_SK } from "./tables.js";

/** Items of the whole deployment rather than of one workshop: the room-code secret and the last credit check. */

/** What the OpenRouter account holds against what the deployment's workshops can still spend (jobs/credits.ts). */
export interface CreditCheck {
  checked_at: string;
  /** total_credits − total_usage, USD. */
  available_usd: number;
  /** Everything open and upcoming workshops can still spend: unclaimed keys' budgets and live keys' unspent limits. */
  worst_case_usd: number;
  /** How much credit is missing (0 when enough). */
  shortfall_usd: number;
  /** Per workshop with something left to spend. */
  workshops: { slug: string; worst_case_usd: number }[];
}

export function deploymentStore(table: Table) {
  const { doc, W } = table;

  return {
    // ── the deployment's room-code secret ───────────────────────────────────────────────────────
    /**
     * The secret room codes are derived from (domain/room-code.ts): made at random on first need and
     * kept here, never in the repository or the browser. The first writer wins (attribute_not_exists),
     * so containers starting at once agree on one secret.
     */
    async roomCodeSecret(nowMs: number): Promise<Buffer> {
      const key = { pk: DEPLOYMENT_PK, sk: ROOM_CODE_SECRET_SK };
      const read = async () => (await doc.send(new GetCommand({ TableName: W, Key: key, ConsistentRead: true }))).Item?.secret;
      const kept = await read();
      if (typeof kept === "string") return Buffer.from(kept, "base64url");
      const made = randomBytes(32).toString("base64url");
      try {
        await doc.send(
          new PutCommand({
            TableName: W,
            Item: { ...key, secret: made, created_at: new Date(nowMs).toISOString() },
            ConditionExpression: "attribute_not_exists(#pk)",
            ExpressionAttributeNames: { "#pk": "pk" },
          }),
        );
        return Buffer.from(made, "base64url");
      } catch (err) {
        if (!isConditionalFailure(err)) throw err;
        const theirs = await read();
        if (typeof theirs !== "string") throw new StoreError("the room-code secret was written by another container but cannot be read back", { cause: err });
        return Buffer.from(theirs, "base64url");
      }
    },

    // ── the account's credit, as the jobs last checked it ──────────────────────────────────────
    /** Keeps the check unless a newer one is already stored (overlapping jobs of several workshops). */
    async putCreditCheck(check: CreditCheck): Promise<void> {
      try {
        await doc.send(
          new PutCommand({
            TableName: W,
            Item: { pk: DEPLOYMENT_PK, sk: CREDITS_SK, ...check },
            ConditionExpression: "attribute_not_exists(#pk) OR #checked_at <= :at",
            ExpressionAttributeNames: { "#pk": "pk", "#checked_at": "checked_at" },
            ExpressionAttributeValues: { ":at": check.checked_at },
          }),
        );
      } catch (err) {
        if (!isConditionalFailure(err)) throw err;
      }
    },

    async getCreditCheck(): Promise<CreditCheck | undefined> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { pk: DEPLOYMENT_PK, sk: CREDITS_SK } }));
      if (!got.Item) return undefined;
      const { checked_at, available_usd, worst_case_usd, shortfall_usd, workshops } = got.Item;
      return { checked_at, available_usd, worst_case_usd, shortfall_usd, workshops } as CreditCheck;
    },
  };
}
