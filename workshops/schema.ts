// zod/mini: the same schemas, checks and messages as classic zod in a fraction of the code: this
// file is in both Lambda bundles (the functions check the workshop items they read), where every
// kilobyte is loaded at each cold start.
import * as z from "zod/mini";

/**
 * The workshop file, `workshops/<slug>.yaml`. Field names follow the origin post's YAML so existing
 * files keep working; `organizers` is new. The schema is strict: an unknown key is an error, because
 * a misspelled `budget_usd` silently falling back to a default would cost real money.
 */

// The slug becomes part of AWS resource names (schedule names ≤ 64 chars with a `-sync` suffix,
// guardrail names, DynamoDB keys), so it is kept short and DNS-like.
export const SLUG_MAX_LENGTH = 48;
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

// ISO 8601 with an explicit offset (`Z` or `+02:00`): a workshop time without a zone means a
// different instant on the organizer's laptop and in the Lambda.
const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

const timestamp = z.string({ error: "must be a timestamp with an offset, e.g. 2026-04-14T11:45:00+02:00" }).check(
  z.regex(TIMESTAMP_PATTERN, {
    abort: true,
    error: "must be an ISO 8601 timestamp with an explicit offset, e.g. 2026-04-14T11:45:00+02:00 (quote it or write it unquoted; do not drop the +02:00 or Z)",
  }),
  z.refine(isRealDateTime, { error: "is not a real date and time (check the day of the month and the hour)" }),
);

// Date.parse rolls 2026-02-31 over to March 3rd; a calendar round trip catches it.
function isRealDateTime(s: string): boolean {
  const [, y, mo, d, h, mi] = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(s)!.map(Number);
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi;
}

// z.number() refuses Infinity and NaN by itself.
const usd = (what: string) =>
  z.number({ error: `must be a number of US dollars (${what})` }).check(z.positive({ error: `must be greater than 0 (${what})` }));

const price = z
  .number({ error: "must be a price in USD per million tokens, e.g. 0.40" })
  .check(z.nonnegative({ error: "must be 0 or more (USD per million tokens)" }));

const text = (error: string) => z.string({ error }).check(z.minLength(1, { error: "must not be empty" }));

/** A whole number within bounds: `atLeast` and `atMost` are the checks with their messages. */
const wholeNumber = (error: string, atLeast: z.core.$ZodCheck<number>, atMost: z.core.$ZodCheck<number>) =>
  z.number({ error }).check(z.int({ error }), atLeast, atMost);

export const ModelSchema = z.strictObject({
  id: z.string({ error: "must be an OpenRouter model slug, e.g. openai/gpt-5-nano" }).check(
    z.regex(/^[a-z0-9][a-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._:-]*$/, {
      error: "must be an OpenRouter model slug like provider/model, e.g. openai/gpt-5-nano",
    }),
  ),
  label: text("must be a short display name, e.g. GPT-5 nano"),
  note: z.optional(z.string({ error: "must be text" })),
  // Optional so a model can be listed before its price is known; `workshops:check` warns about it.
  price_in_per_mtok: z.optional(price),
  price_out_per_mtok: z.optional(price),
});

export const GuardrailSchema = z.strictObject({
  cap_usd: usd("the pooled spend cap for the whole workshop"),
  reset_interval: z.enum(["daily", "weekly", "monthly"], {
    error: "must be one of daily, weekly, monthly",
  }),
  max_keys: wholeNumber("must be a whole number of keys", z.positive({ error: "must be at least 1" }), z.lte(10_000, { error: "must be at most 10000" })),
});

export const OpenRouterSchema = z.strictObject({
  budget_usd: usd("each attendee key's hard limit"),
  key_label_prefix: z.string({ error: "must be a short prefix for key names, e.g. pyconde-2026-darmstadt" }).check(
    z.regex(/^[a-z0-9][a-z0-9-]{0,39}$/, {
      error: "must be 1-40 lowercase letters, digits and dashes, starting with a letter or digit",
    }),
  ),
  expires_buffer_minutes: wholeNumber("must be a whole number of minutes", z.gte(0, { error: "must be 0 or more" }), z.lte(60 * 24 * 30, { error: "must be at most 43200 (30 days)" })),
  models: z.array(ModelSchema, { error: "must be a list of models" }).check(z.minLength(1, { error: "must list at least one model" })),
  guardrail: GuardrailSchema,
});

/**
 * The room code (`claim_code`): attendees claim only with the short code the projector page shows in
 * the room (its QR code carries it). `true` takes the defaults; an object tunes them. The code
 * changes every `rotate_minutes`; the previous one is still accepted for `grace_minutes` after the
 * change, so someone who scanned just before it changed can finish signing in.
 */
export const CLAIM_CODE_DEFAULTS = { rotate_minutes: 5, grace_minutes: 5 } as const;

const minutes = (what: string, min: number, max: number) =>
  wholeNumber(`must be a whole number of minutes (${what})`, z.gte(min, { error: `must be at least ${min} (${what})` }), z.lte(max, { error: `must be at most ${max} (${what})` }));

export const ClaimCodeSchema = z.pipe(
  // `true` is the defaults, `false` the same as leaving the field out.
  z.transform((v: unknown) => (v === true ? {} : v === false ? undefined : v)),
  z.optional(
    z
      .pipe(
        z.strictObject(
          {
            rotate_minutes: z._default(minutes("how often the room code changes", 1, 60), CLAIM_CODE_DEFAULTS.rotate_minutes),
            grace_minutes: z.optional(minutes("how long the previous code is still accepted after it changed", 0, 60)),
          },
          { error: "must be true (a room code that changes every 5 minutes), false, or {rotate_minutes, grace_minutes}" },
        ),
        z.transform((c) => ({ rotate_minutes: c.rotate_minutes, grace_minutes: c.grace_minutes ?? Math.min(CLAIM_CODE_DEFAULTS.grace_minutes, c.rotate_minutes) })),
      )
      .check(
        z.refine((c) => c.grace_minutes <= c.rotate_minutes, {
          path: ["grace_minutes"],
          error: "must be at most rotate_minutes (only the previous code is accepted after a change)",
        }),
      ),
  ),
);

/**
 * Who may claim (`attendees`), beyond signing in with a verified email: only addresses in
 * `allow_email_domains` (a company or university workshop; subdomains too with `allow_subdomains`),
 * and/or only the people on the invite list an organizer uploads on the dashboard (`invite_list:
 * true`; the list is personal data, so it is never in git). Left out: anyone signed in.
 */
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export const AttendeesSchema = z.optional(
  z.strictObject({
    allow_email_domains: z.optional(
      z
        .array(z.string().check(z.toLowerCase(), z.trim(), z.regex(DOMAIN, { error: "must be a domain name like example.com (no @, no *)" })), {
          error: "must be a list of domain names",
        })
        .check(z.minLength(1, { error: "must list at least one domain (or leave allow_email_domains out)" })),
    ),
    allow_subdomains: z._default(z.boolean({ error: "must be true or false" }), false),
    invite_list: z._default(z.boolean({ error: "must be true or false" }), false),
  }),
);

export const WorkshopSchema = z
  .strictObject({
    slug: z.string({ error: "must be the file name without .yaml" }).check(
      z.maxLength(SLUG_MAX_LENGTH, { error: `must be at most ${SLUG_MAX_LENGTH} characters (it becomes part of AWS resource names)` }),
      z.regex(SLUG_PATTERN, { error: "must be lowercase letters, digits and dashes, e.g. pyconde-2026-darmstadt-sql-agents" }),
    ),
    name: text("must be the workshop title"),
    event: text("must be the event name"),
    location: text("must be the room or place"),
    starts_at: timestamp,
    ends_at: timestamp,
    claims_open_at: timestamp,
    claims_close_at: timestamp,
    is_active: z.boolean({ error: "must be true or false" }),
    welcome_message: z._default(z.string({ error: "must be markdown text" }), ""),
    organizers: z._default(z.array(z.email({ error: "must be an email address" }), { error: "must be a list of email addresses" }), []),
    claim_code: ClaimCodeSchema,
    attendees: AttendeesSchema,
    openrouter: OpenRouterSchema,
  })
  .check(z.superRefine((w, ctx) => {
    const t = (s: string) => Date.parse(s);
    if (t(w.ends_at) <= t(w.starts_at)) {
      ctx.addIssue({ code: "custom", path: ["ends_at"], message: "must be after starts_at" });
    }
    if (t(w.claims_close_at) <= t(w.claims_open_at)) {
      ctx.addIssue({ code: "custom", path: ["claims_close_at"], message: "must be after claims_open_at" });
    }
    const seen = new Map<string, number>();
    w.openrouter.models.forEach((m, i) => {
      const first = seen.get(m.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["openrouter", "models", i, "id"],
          message: `duplicates models[${first}] (${m.id}); list each model once`,
        });
      } else seen.set(m.id, i);
    });
    const organizers = new Set<string>();
    w.organizers.forEach((e, i) => {
      const k = e.toLowerCase();
      if (organizers.has(k)) ctx.addIssue({ code: "custom", path: ["organizers", i], message: `lists ${e} twice` });
      organizers.add(k);
    });
  }));

export type Workshop = z.output<typeof WorkshopSchema>;
export type WorkshopInput = z.input<typeof WorkshopSchema>;
export type WorkshopModel = z.output<typeof ModelSchema>;
export type ClaimCodePolicy = NonNullable<Workshop["claim_code"]>;
export type AttendeesPolicy = NonNullable<Workshop["attendees"]>;
