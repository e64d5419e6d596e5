import type { AttendeeItem, WorkshopConsent } from "../data/store.js";

/**
 * Marketing consent is given to one workshop's organizers, on that workshop's confirm step, and
 * exported only to them. Profiles written before consent was kept per workshop hold a single global
 * answer with the workshop it was first given for: it counts for that workshop alone, and any
 * answer given on a workshop's confirm step since then replaces it there.
 */

export interface ConsentAnswer {
  /** Whether the attendee has answered for this workshop (else its confirm step asks). */
  decided: boolean;
  marketing_opted_in: boolean;
  opted_in_at?: string;
}

export function consentForWorkshop(slug: string, answer: WorkshopConsent | undefined, attendee: AttendeeItem | undefined): ConsentAnswer {
  if (answer) {
    return { decided: true, marketing_opted_in: answer.marketing_opted_in, ...(answer.opted_in_at ? { opted_in_at: answer.opted_in_at } : {}) };
  }
  if (attendee?.marketing_opted_in === true && attendee.marketing_opted_in_workshop === slug) {
    return { decided: true, marketing_opted_in: true, ...(attendee.marketing_opted_in_at ? { opted_in_at: attendee.marketing_opted_in_at } : {}) };
  }
  return { decided: false, marketing_opted_in: false };
}
