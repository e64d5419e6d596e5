import type { AttendeesPolicy, Workshop } from "./schema.js";

/** A workshop's `attendees` rule (schema.ts), in code and in words: the claim path and `workshops:check` share it. */

/** The email's domain is one of the allowed ones (or, with `allow_subdomains`, under one). */
export function emailDomainAllowed(policy: AttendeesPolicy, email: string): boolean {
  const domains = policy.allow_email_domains;
  if (!domains) return true;
  const domain = email.trim().toLowerCase().split("@").pop() ?? "";
  return domains.some((d) => domain === d || (policy.allow_subdomains && domain.endsWith(`.${d}`)));
}

/** The rule in words, for the refusal and `workshops:check`. */
export function whoMayClaim(w: Workshop): string {
  const a = w.attendees;
  const parts: string[] = [];
  if (a?.allow_email_domains) {
    const list = a.allow_email_domains.map((d) => `@${d}`).join(", ");
    parts.push(`people with an email address at ${list}${a.allow_subdomains ? " (or a subdomain)" : ""}`);
  }
  if (a?.invite_list) parts.push("people on the invite list the organizers uploaded");
  return parts.length ? parts.join(", and only ") : "anyone who signs in with a verified email";
}

