import type { Context } from "hono";
// zod/mini (as workshops/schema.ts): the same checks and messages, a fraction of the bundle.
import * as z from "zod/mini";
import { SLUG_PATTERN } from "../../workshops/schema.js";
import type { Principal } from "../auth/index.js";
import type { WorkshopRecord } from "../data/store.js";

/** What the middleware hands the handlers: the verified caller, and for organizer routes the workshop. */
export type Env = { Variables: { principal: Principal; workshop: WorkshopRecord } };

export const MAX_BODY_BYTES = 4096;

/** A request the API refuses before reaching the domain (bad body, not an organizer). */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 403 | 404,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ApiError";
  }
}

export const slugParam = z.string().check(z.maxLength(48), z.regex(SLUG_PATTERN));
export const userIdParam = z.string().check(z.minLength(1), z.maxLength(256));

/** A strict JSON body, or a 400 naming every field that is wrong. */
export async function readBody<T extends z.ZodMiniType>(c: Context<Env>, schema: T, { optional }: { optional: boolean }): Promise<z.output<T>> {
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw new ApiError(400, "body_too_large", `The request body must be at most ${MAX_BODY_BYTES} bytes.`);
  let json: unknown = {};
  if (text.trim() !== "") {
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ApiError(400, "invalid_json", "The request body is not valid JSON.", { cause: err });
    }
  } else if (!optional) {
    throw new ApiError(400, "bad_request", "This request needs a JSON body.");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => (i.code === "unrecognized_keys" ? `unknown field(s): ${i.keys.join(", ")}` : `${i.path.join(".") || "body"}: ${i.message}`));
    throw new ApiError(400, "bad_request", `The request body is not valid: ${detail.join("; ")}.`);
  }
  return parsed.data;
}

/** A path (or query) parameter; one that cannot name anything is a 404, not a 400. */
export const param = (c: Context<Env>, name: string, schema: z.ZodMiniType<string>, value: string | undefined = c.req.param(name)) => {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError(404, name === "slug" || name === "workshop" ? "workshop_not_found" : "not_found", `Nothing is known under that ${name}.`);
  return parsed.data;
};
