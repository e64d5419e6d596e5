import type { Workshop } from "../../workshops/schema.js";
import { emailDomainAllowed, whoMayClaim } from "../../workshops/who-may-claim.js";
import type { Store } from "../data/store.js";
import { normalizeEmail } from "./email.js";
import { NotAllowedToClaimError } from "./errors.js";

/**
 * Why `email` may not claim in `w` (undefined: it may). Checked on every new claim, before anything
 * is reserved; someone who already holds a claim keeps it.
 */
export async function admissionRefusal(store: Pick<Store, "isInvited">, w: Workshop, email: string): Promise<NotAllowedToClaimError | undefined> {
  const a = w.attendees;
  if (!a) return undefined;
  if (!emailDomainAllowed(a, email)) {
    return new NotAllowedToClaimError(
      w.slug,
      `Keys for this workshop are for ${whoMayClaim(w)}: the organizers chose this in the workshop's settings. You signed in as ${email}; sign in with your address there, or ask an organizer.`,
      { rule: "email_domains", allowed_domains: a.allow_email_domains, allow_subdomains: a.allow_subdomains },
    );
  }
  if (a.invite_list && !(await store.isInvited(w.slug, normalizeEmail(email)))) {
    return new NotAllowedToClaimError(
      w.slug,
      `Keys for this workshop are for ${whoMayClaim(w)}, and ${email} is not on it. Sign in with the address you registered with, or ask an organizer.`,
      { rule: "invite_list" },
    );
  }
  return undefined;
}
