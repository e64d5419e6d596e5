import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { effectiveCapacity, keyExpiresAt, worstCaseSpendUsd, guardrailSpec, workshopWarnings, claimWindow } from "./derive.js";
import { loadWorkshops, parseWorkshop, readWorkshops, WORKSHOPS_DIR, WorkshopConfigError, formatProblem } from "./load.js";
import { workshopTemplate } from "./new.js";

const SLUG = "pyconde-2026-darmstadt-sql-agents";
const goodText = readFileSync(join(WORKSHOPS_DIR, `${SLUG}.yaml`), "utf8");
const good = () => parse(goodText) as Record<string, any>;
const FILE = `workshops/${SLUG}.yaml`;

function problemsOf(mutate: (w: Record<string, any>) => void, file = FILE): string[] {
  const w = good();
  mutate(w);
  return parseWorkshop(file, stringify(w)).problems.map(formatProblem);
}

describe("the real workshop files", () => {
  it("all load, and the origin post's example derives the right numbers", () => {
    const workshops = loadWorkshops();
    const w = workshops.find((x) => x.slug === SLUG)!;
    expect(w).toBeDefined();
    expect(w.openrouter.models.map((m) => m.id)).toEqual([
      "anthropic/claude-sonnet-4.6",
      "openai/gpt-5-nano",
      "qwen/qwen3.5-flash-02-23",
    ]);
    // ends 14:45+02:00 = 12:45Z, plus 30 minutes, with seconds
    expect(keyExpiresAt(w)).toBe("2026-04-14T13:15:00Z");
    expect(effectiveCapacity(w)).toBe(300); // min(300, floor(800 / 2))
    expect(worstCaseSpendUsd(w)).toBe(600);
    expect(guardrailSpec(w)).toMatchObject({ name: `workshop-${SLUG}`, limit_usd: 800, reset_interval: "monthly" });
    expect(workshopWarnings(w)).toEqual([]);
  });
});

describe("bad input is rejected with the file and the field", () => {
  const cases: [string, (w: Record<string, any>) => void, RegExp][] = [
    ["missing field", (w) => delete w.name, new RegExp(`^${FILE}:1: name: is required`)],
    ["missing nested field", (w) => delete w.openrouter.budget_usd, /: openrouter\.budget_usd: is required/],
    ["wrong type", (w) => (w.openrouter.budget_usd = "two dollars"), /: openrouter\.budget_usd: must be a number/],
    ["negative budget", (w) => (w.openrouter.budget_usd = -1), /: openrouter\.budget_usd: must be greater than 0/],
    ["negative price", (w) => (w.openrouter.models[1].price_in_per_mtok = -0.1), /: openrouter\.models\[1\]\.price_in_per_mtok: must be 0 or more/],
    ["unknown key", (w) => (w.openrouter.budjet_usd = 2), /: openrouter\.budjet_usd: is not a known field; remove it or check its spelling/],
    ["unknown top-level key", (w) => (w.colour = "blue"), /: colour: is not a known field/],
    ["timestamp without offset", (w) => (w.starts_at = "2026-04-14T11:45:00"), /: starts_at: must be an ISO 8601 timestamp with an explicit offset/],
    ["not a date", (w) => (w.ends_at = "2026-02-31T11:45:00+02:00"), /: ends_at: is not a real date/],
    ["open after close", (w) => (w.claims_open_at = "2026-04-15T00:00:00+02:00"), /: claims_close_at: must be after claims_open_at/],
    ["end before start", (w) => (w.ends_at = "2026-04-14T10:00:00+02:00"), /: ends_at: must be after starts_at/],
    ["duplicate model", (w) => w.openrouter.models.push({ ...w.openrouter.models[0] }), /: openrouter\.models\[3\]\.id: duplicates models\[0\]/],
    ["no models", (w) => (w.openrouter.models = []), /: openrouter\.models: must list at least one model/],
    ["bad model slug", (w) => (w.openrouter.models[0].id = "claude"), /: openrouter\.models\[0\]\.id: must be an OpenRouter model slug/],
    ["slug too long", (w) => (w.slug = "x".repeat(49)), /: slug: must be at most 48 characters/],
    ["slug pattern", (w) => (w.slug = "PyCon_2026"), /: slug: must be lowercase letters/],
    ["slug/file mismatch", (w) => (w.slug = "another-workshop"), /: slug: must equal the file name: rename the file to another-workshop\.yaml or set slug: pyconde/],
    ["bad organizer email", (w) => (w.organizers = ["not-an-email"]), /: organizers\[0\]: must be an email address/],
    ["bad reset interval", (w) => (w.openrouter.guardrail.reset_interval = "hourly"), /: openrouter\.guardrail\.reset_interval: must be one of daily, weekly, monthly/],
    ["fractional max_keys", (w) => (w.openrouter.guardrail.max_keys = 2.5), /: openrouter\.guardrail\.max_keys: must be a whole number/],
    ["room code not a switch", (w) => (w.claim_code = "yes"), /: claim_code: must be true \(a room code that changes every 5 minutes\), false, or \{rotate_minutes, grace_minutes\}/],
    ["room code misspelled", (w) => (w.claim_code = { rotate_minutes: 5, grace: 2 }), /: claim_code\.grace: is not a known field/],
    ["room code never changing", (w) => (w.claim_code = { rotate_minutes: 0 }), /: claim_code\.rotate_minutes: must be at least 1 \(how often the room code changes\)/],
    ["room code grace past the next change", (w) => (w.claim_code = { rotate_minutes: 2, grace_minutes: 3 }), /: claim_code\.grace_minutes: must be at most rotate_minutes/],
  ];
  it("claim_code: true is a room code with the defaults, an object tunes it, false or absent is none", () => {
    const codeOf = (value: unknown) => {
      const w = good();
      if (value === undefined) delete w.claim_code;
      else w.claim_code = value;
      const parsed = parseWorkshop(FILE, stringify(w));
      expect(parsed.problems).toEqual([]);
      return parsed.workshop!.claim_code;
    };
    expect(codeOf(true)).toEqual({ rotate_minutes: 5, grace_minutes: 5 });
    expect(codeOf({ rotate_minutes: 10 })).toEqual({ rotate_minutes: 10, grace_minutes: 5 });
    expect(codeOf({ rotate_minutes: 2 })).toEqual({ rotate_minutes: 2, grace_minutes: 2 });
    expect(codeOf({ rotate_minutes: 10, grace_minutes: 0 })).toEqual({ rotate_minutes: 10, grace_minutes: 0 });
    expect(codeOf(false)).toBeUndefined();
    expect(codeOf(undefined)).toBeUndefined();
  });

  it.each(cases)("%s", (_name, mutate, expected) => {
    const problems = problemsOf(mutate);
    expect(problems.some((p) => expected.test(p)), problems.join("\n")).toBe(true);
    // Every problem names the file and the line: `file:line: path: message`.
    expect(problems.every((p) => new RegExp(`^${FILE}:\\d+: `).test(p)), problems.join("\n")).toBe(true);
  });

  it.each([
    ["non-YAML garbage", "slug: [unclosed\n  : : :\n", /is not valid YAML/],
    ["empty file", "", /the file is empty/],
    ["a list instead of a mapping", "- a\n- b\n", /must be a YAML mapping of fields/],
    ["a duplicated key", goodText + "\nname: again\n", /is not valid YAML \(Map keys must be unique/],
  ])("%s", (_name, text, expected) => {
    const { workshop, problems } = parseWorkshop(FILE, text);
    expect(workshop).toBeUndefined();
    expect(problems.map(formatProblem).join("\n")).toMatch(new RegExp(`^${FILE}(:\\d+)?: .*${expected.source}`, "m"));
  });

  it("reports every error of every file at once", () => {
    const dir = mkdtempSync(join(tmpdir(), "workshops-"));
    writeFileSync(join(dir, "a.yaml"), "");
    const w = good();
    w.slug = "b";
    delete w.location;
    w.openrouter.extra = 1;
    writeFileSync(join(dir, "b.yaml"), stringify(w));
    writeFileSync(join(dir, `${SLUG}.yaml`), goodText);
    const { workshops, problems } = readWorkshops(dir);
    expect(workshops.map((x) => x.slug)).toEqual([SLUG]);
    const text = problems.map(formatProblem).join("\n");
    expect(text).toMatch(/a\.yaml: the file is empty/);
    expect(text).toMatch(/b\.yaml:1: location: is required/);
    expect(text).toMatch(/b\.yaml:\d+: openrouter\.extra: is not a known field/);
    expect(() => loadWorkshops(dir)).toThrow(WorkshopConfigError);
  });
});

describe("derived values", () => {
  it("capacity is bounded by the pooled cap, and warnings say so", () => {
    const w = good();
    w.openrouter.guardrail = { cap_usd: 100, reset_interval: "monthly", max_keys: 300 };
    const parsed = parseWorkshop(FILE, stringify(w)).workshop!;
    expect(effectiveCapacity(parsed)).toBe(50);
    expect(worstCaseSpendUsd(parsed)).toBe(100);
    expect(workshopWarnings(parsed).map((x) => x.message).join()).toMatch(/only 50 keys can be handed out/);
  });

  it("capacity survives float division (cap 100, budget 0.1 gives 1000 keys)", () => {
    const w = good();
    w.openrouter.budget_usd = 0.1;
    w.openrouter.guardrail = { cap_usd: 100, reset_interval: "monthly", max_keys: 5000 };
    expect(effectiveCapacity(parseWorkshop(FILE, stringify(w)).workshop!)).toBe(1000);
  });

  it("warns when claims close after keys expire and when a model has no price", () => {
    const w = good();
    w.claims_close_at = "2026-04-14T16:00:00+02:00";
    delete w.openrouter.models[2].price_out_per_mtok;
    const msgs = workshopWarnings(parseWorkshop(FILE, stringify(w)).workshop!).map((x) => x.message).join("\n");
    expect(msgs).toMatch(/claims close .* after keys expire/);
    expect(msgs).toMatch(/model qwen\/qwen3\.5-flash-02-23 has no price/);
  });

  it("the claim window follows the clock and is_active", () => {
    const w = parseWorkshop(FILE, goodText).workshop!;
    expect(claimWindow(w, Date.parse("2026-04-13T15:59:59Z"))).toBe("upcoming");
    expect(claimWindow(w, Date.parse("2026-04-13T16:00:00Z"))).toBe("open");
    expect(claimWindow(w, Date.parse("2026-04-14T13:00:00Z"))).toBe("closed");
    expect(claimWindow({ ...w, is_active: false }, Date.parse("2026-04-13T17:00:00Z"))).toBe("closed");
  });
});

/** The 1-based line of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const at = text.split("\n").findIndex((l) => l.includes(needle));
  if (at < 0) throw new Error(`${needle} is not in the text`);
  return at + 1;
}

describe("the line of every problem", () => {
  it("points at the field, the unknown key, the list item, the nearest field around a missing one, and YAML's own error", () => {
    const at = (text: string) => parseWorkshop(FILE, text).problems.map(formatProblem);
    const badBudget = goodText.replace("budget_usd: 2.0", "budget_usd: lots");
    expect(at(badBudget)).toEqual([`${FILE}:${lineOf(badBudget, "budget_usd:")}: openrouter.budget_usd: must be a number of US dollars (each attendee key's hard limit)`]);

    const typo = goodText.replace("  budget_usd: 2.0", "  budjet_usd: 2.0");
    const typoProblems = at(typo);
    expect(typoProblems).toContain(`${FILE}:${lineOf(typo, "budjet_usd:")}: openrouter.budjet_usd: is not a known field; remove it or check its spelling`);
    // The missing budget_usd points at the openrouter block it belongs in.
    expect(typoProblems).toContain(`${FILE}:${lineOf(typo, "openrouter:") + 1}: openrouter.budget_usd: is required: it must be a number of US dollars (each attendee key's hard limit)`);

    const secondModel = goodText.split("\n").findIndex((l) => l.includes("- id: openai/gpt-5-nano"));
    const badModel = goodText.replace("- id: openai/gpt-5-nano", "- id: gpt5nano");
    expect(at(badModel)[0]).toMatch(new RegExp(`^${FILE}:${secondModel + 1}: openrouter\\.models\\[1\\]\\.id: must be an OpenRouter model slug`));

    expect(at(goodText.replace(/^slug: .*$/m, "slug: another-one"))[0]).toMatch(new RegExp(`^${FILE}:${lineOf(goodText, "slug:")}: slug: must equal the file name`));
    expect(at(`${goodText}\nname: again\n`)[0]).toMatch(new RegExp(`^${FILE}:${goodText.split("\n").length + 1}: is not valid YAML \\(Map keys must be unique`));
  });
});

describe("the CLIs", () => {
  const run = promisify(execFile);
  const tsx = join(WORKSHOPS_DIR, "..", "node_modules", ".bin", "tsx");
  const exec = (args: string[]) =>
    run(tsx, args, { cwd: join(WORKSHOPS_DIR, "..") }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e) => ({ code: e.code as number, out: `${e.stdout}${e.stderr}` }),
    );

  it("workshops:check exits 0 on good files and names file and field on a broken one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "check-"));
    writeFileSync(join(dir, `${SLUG}.yaml`), goodText);
    const ok = await exec(["workshops/check.ts", "--dir", dir]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/ok +pyconde-2026-darmstadt-sql-agents: .*300 keys × \$2 \(worst case \$600 of cap \$800\); no room code/);
    writeFileSync(join(dir, `${SLUG}.yaml`), `${goodText}\nclaim_code: { rotate_minutes: 3 }\n`);
    const coded = await exec(["workshops/check.ts", "--dir", dir]);
    expect(coded.code).toBe(0);
    expect(coded.out).toMatch(/room code from the projector, new every 3 min \(the previous one accepted 3 min longer\)/);

    writeFileSync(join(dir, `${SLUG}.yaml`), goodText.replace("budget_usd: 2.0", "budget_usd: lots"));
    const bad = await exec(["workshops/check.ts", "--dir", dir]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(new RegExp(`${SLUG}\\.yaml:${lineOf(goodText, "budget_usd:")}: openrouter\\.budget_usd: must be a number`));
  });

  it("workshops:new writes a template the check refuses, line by line, until every placeholder is filled in", async () => {
    const dir = mkdtempSync(join(tmpdir(), "new-"));
    const made = await exec(["workshops/new.ts", "--dir", dir, "devfest-2027-agents"]);
    expect(made.code).toBe(0);
    const file = join(dir, "devfest-2027-agents.yaml");
    const text = readFileSync(file, "utf8");
    expect(text).toBe(workshopTemplate("devfest-2027-agents"));

    const untouched = await exec(["workshops/check.ts", "--dir", dir]);
    expect(untouched.code).toBe(1);
    const shown = relative(join(WORKSHOPS_DIR, ".."), file);
    for (const field of ["name", "event", "location", "starts_at", "ends_at", "claims_open_at", "claims_close_at"]) {
      expect(untouched.out).toContain(`${shown}:${lineOf(text, `${field}:`)}: ${field}: still says FILL-IN from the template`);
    }
    expect(untouched.out).toContain(`${shown}:${lineOf(text, "- you@example.com")}: organizers[0]: is the template's example address`);
    // The placeholder is the one thing said about its field, not also "not a timestamp".
    expect(untouched.out).not.toMatch(/starts_at: must be an ISO 8601 timestamp/);
    expect(untouched.out).toMatch(/8 errors in 1 of 1 file$/m);

    const filled = text
      .replace('name: "FILL-IN: workshop title"', 'name: "Agents with SQL"')
      .replace('event: "FILL-IN: conference or meetup"', 'event: "DevFest 2027"')
      .replace('location: "FILL-IN: room"', 'location: "Room 2"')
      .replace(/starts_at: FILL-IN/, "starts_at: 2027-01-10T10:00:00+01:00")
      .replace(/ends_at: FILL-IN/, "ends_at: 2027-01-10T13:00:00+01:00")
      .replace(/claims_open_at: FILL-IN/, "claims_open_at: 2027-01-09T18:00:00+01:00")
      .replace(/claims_close_at: FILL-IN/, "claims_close_at: 2027-01-10T13:00:00+01:00");
    writeFileSync(file, filled);
    const organizerLeft = await exec(["workshops/check.ts", "--dir", dir]);
    expect(organizerLeft.code).toBe(1);
    expect(organizerLeft.out).toMatch(/1 error in 1 of 1 file$/m);

    writeFileSync(file, filled.replace("- you@example.com", "- lead@devfest.example.org"));
    const checked = await exec(["workshops/check.ts", "--dir", dir]);
    expect(checked.out).toMatch(/^1 workshop file valid$/m);
    expect(checked.code).toBe(0);
    expect((await exec(["workshops/new.ts", "--dir", dir, "Bad Slug"])).code).toBe(2);
  });

  it("workshops:check refuses a workshop that can hand out no key, and counts in words that agree", async () => {
    const dir = mkdtempSync(join(tmpdir(), "check-capacity-"));
    const none = goodText.replace("cap_usd: 800", "cap_usd: 1.5");
    writeFileSync(join(dir, `${SLUG}.yaml`), none);
    const refused = await exec(["workshops/check.ts", "--dir", dir]);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(
      new RegExp(`${SLUG}\\.yaml:${lineOf(none, "cap_usd:")}: openrouter\\.guardrail\\.cap_usd: is \\$1\\.5, less than one key's budget_usd \\(\\$2\\): this workshop can hand out 0 keys`),
    );

    writeFileSync(join(dir, `${SLUG}.yaml`), goodText.replace("cap_usd: 800", "cap_usd: 2"));
    const one = await exec(["workshops/check.ts", "--dir", dir]);
    expect(one.code).toBe(0);
    expect(one.out).toMatch(/ 1 key × \$2 \(worst case \$2 of cap \$2\)/);
    expect(one.out).toMatch(/only 1 key can be handed out/);
    expect(one.out).not.toMatch(/\b1 keys\b/);
  });
});
