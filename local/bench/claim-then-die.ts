import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createStore } from "../../functions/data/store.js";
import { createClaimEngine } from "../../functions/domain/claims.js";
import { createWorkshopCatalog } from "../../functions/domain/workshops.js";
import { createOpenRouterClient } from "../../functions/openrouter/client.js";
import type { OpenRouterClient } from "../../functions/openrouter/types.js";

/**
 * A container that dies mid-claim: it claims a key with the real engine, store and client, and the
 * moment it reaches the step named by BENCH_DIE_AT it says so on stdout and stops making progress,
 * so its parent can SIGKILL it exactly there:
 *   mint (default)  OpenRouter has answered POST /keys; the key is not governed nor stored (claim RESERVED)
 *   store           the key is assigned to the workshop's guardrail; it is not stored yet (claim RESERVED)
 * Used by functions/faults.test.ts and functions/reissue.test.ts.
 *
 * Environment: BENCH_DYNAMO_ENDPOINT, BENCH_TABLES (JSON), BENCH_OPENROUTER_URL,
 * OPENROUTER_MANAGEMENT_KEY, BENCH_SLUG, BENCH_USER_ID, BENCH_EMAIL, BENCH_LEASE_MS, BENCH_DIE_AT.
 * Prints `minted <key hash>` (never the key) and nothing else.
 */

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const dynamo = new DynamoDBClient({ endpoint: env("BENCH_DYNAMO_ENDPOINT"), region: "local", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
const store = createStore({ client: dynamo, tableNames: JSON.parse(env("BENCH_TABLES")) as { attendees: string; workshops: string } });
const real = createOpenRouterClient({ apiKey: env("OPENROUTER_MANAGEMENT_KEY"), serverURL: env("BENCH_OPENROUTER_URL"), timeoutMs: 5_000, maxAttempts: 3, totalBudgetMs: 12_000 });
// The process is killed here; until then it makes no further progress.
const halt = (hash: string) => {
  process.stdout.write(`minted ${hash}\n`);
  return new Promise<never>(() => {});
};
const openrouter: OpenRouterClient =
  process.env.BENCH_DIE_AT === "store"
    ? {
        ...real,
        // The key is stored only once this answers: halting after the real assignment stops the claim there.
        assignKeys: async (guardrailId, hashes) => {
          await real.assignKeys(guardrailId, hashes);
          return halt(hashes[0]!);
        },
      }
    : { ...real, createKey: async (input) => halt((await real.createKey(input)).hash) };
const engine = createClaimEngine({ store, openrouter, workshops: createWorkshopCatalog({ store }), now: Date.now, leaseMs: Number(env("BENCH_LEASE_MS")) });
await engine.claim(env("BENCH_SLUG"), { userId: env("BENCH_USER_ID"), email: env("BENCH_EMAIL") });
