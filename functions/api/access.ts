import type { Context } from "hono";
import { bearerToken, isOrganizer, type Principal, type VerifyToken } from "../auth/index.js";
import type { WorkshopCatalog } from "../domain/workshops.js";
import { ApiError, param, slugParam, type Env } from "./request.js";

/** Who may call a route: the token's principal for every caller, a workshop's organizers for admin routes. */

type Middleware = (c: Context<Env>, next: () => Promise<void>) => Promise<void>;

export const authenticate =
  (verifyToken: VerifyToken): Middleware =>
  async (c, next) => {
    c.set("principal", await verifyToken(bearerToken(c.req.header("Authorization"))));
    await next();
  };

export const organizerOnly =
  (workshops: WorkshopCatalog): Middleware =>
  async (c, next) => {
    const record = await workshops.get(param(c, "slug", slugParam));
    if (!isOrganizer(c.get("principal"), record.config)) {
      throw new ApiError(403, "forbidden", "Only this workshop's organizers can do that.");
    }
    c.set("workshop", record);
    await next();
  };

/** The slugs of the workshops `p` organizes. */
export const organizerOf = async (workshops: WorkshopCatalog, p: Principal) => (await workshops.index()).filter((e) => isOrganizer(p, e)).map((e) => e.slug);
