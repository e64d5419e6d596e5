/**
 * `npm run workshops:new -- <slug>`: writes a commented template for a new workshop. It fails the
 * check until every FILL-IN and the example organizer are replaced, on purpose: a template must not
 * go live by accident.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { TEMPLATE_ORGANIZER, TEMPLATE_PLACEHOLDER, WORKSHOPS_DIR } from "./load.js";
import { SLUG_MAX_LENGTH, SLUG_PATTERN } from "./schema.js";

export function workshopTemplate(slug: string): string {
  const prefix = slug.slice(0, 40).replace(/-+$/, "");
  return `# Workshop: ${slug}
# Fill in every ${TEMPLATE_PLACEHOLDER}, then run \`npm run workshops:check\` and open a pull request.
# Times are ISO 8601 with an explicit offset, e.g. 2026-04-14T11:45:00+02:00.
slug: ${slug}                      # must equal the file name
name: "${TEMPLATE_PLACEHOLDER}: workshop title"
event: "${TEMPLATE_PLACEHOLDER}: conference or meetup"
location: "${TEMPLATE_PLACEHOLDER}: room"
starts_at: ${TEMPLATE_PLACEHOLDER}                 # when the workshop starts
ends_at: ${TEMPLATE_PLACEHOLDER}                   # when it ends; keys expire expires_buffer_minutes later
claims_open_at: ${TEMPLATE_PLACEHOLDER}            # attendees can claim from here (e.g. the evening before)
claims_close_at: ${TEMPLATE_PLACEHOLDER}           # no new keys after this
is_active: true
welcome_message: |
  ## Welcome!

  Sign in, claim your personal key, and copy a snippet to get started.
organizers:                        # these signed-in emails see the organizer dashboard
  - ${TEMPLATE_ORGANIZER}
claim_code: true                   # keys only for people in the room: they scan the QR code on the projector
                                   # page (/w/<slug>/projector, an organizer signs in there) or type its code.
                                   # It changes every 5 minutes; tune with {rotate_minutes: 5, grace_minutes: 5};
                                   # false lets anyone signed in claim.
openrouter:
  budget_usd: 2.0                  # hard limit of each attendee key, in USD
  key_label_prefix: ${prefix}
  expires_buffer_minutes: 30
  models:                          # the allowlist, the pricing table and the snippets
    - id: openai/gpt-5-nano
      label: GPT-5 nano
      note: Cheapest, fast iterations
      price_in_per_mtok: 0.05      # USD per million input tokens
      price_out_per_mtok: 0.40     # USD per million output tokens
  guardrail:
    cap_usd: 200                   # pooled cap: never more than this in total (cap / budget = keys)
    reset_interval: monthly
    max_keys: 100
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { dir: { type: "string", default: WORKSHOPS_DIR } },
  });
  const slug = positionals[0];
  if (!slug || !SLUG_PATTERN.test(slug) || slug.length > SLUG_MAX_LENGTH) {
    console.error(
      `usage: npm run workshops:new -- <slug>\n` +
        `  slug: lowercase letters, digits and dashes, at most ${SLUG_MAX_LENGTH} characters, e.g. devfest-2026-berlin-agents`,
    );
    process.exit(2);
  }
  const file = join(values.dir!, `${slug}.yaml`);
  if (existsSync(file)) {
    console.error(`${file} already exists; edit it instead`);
    process.exit(1);
  }
  writeFileSync(file, workshopTemplate(slug));
  console.log(`wrote ${file}\nfill in the FILL-IN fields, then run: npm run workshops:check`);
}
