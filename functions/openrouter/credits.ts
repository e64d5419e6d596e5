import * as z from "zod/mini";
import type { Call } from "./request.js";
import type { Credits, OpenRouterClient } from "./types.js";

const CreditsAnswer = z.object({ data: z.object({ total_credits: z.number(), total_usage: z.number() }) });

/** `/credits`: what the account that pays for every workshop's keys has left. */
export function creditOperations(call: Call): Pick<OpenRouterClient, "getCredits"> {
  return {
    async getCredits(): Promise<Credits> {
      const res = await call("credits", "GET /credits", { method: "GET", path: "/credits" }, CreditsAnswer);
      return { total_credits: res.data.total_credits, total_usage: res.data.total_usage };
    },
  };
}
