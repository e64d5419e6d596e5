import type { Workshop } from "../../workshops/schema.js";
import type { Principal } from "./verify.js";

/** Organizer rights: a global admin, or a verified email listed in the workshop's `organizers`. */
export function isOrganizer(principal: Principal, workshop: Pick<Workshop, "organizers">): boolean {
  if (principal.isAdmin) return true;
  if (!principal.email || !principal.emailVerified) return false;
  const email = principal.email.trim().toLowerCase();
  return workshop.organizers.some((o) => o.trim().toLowerCase() === email);
}
