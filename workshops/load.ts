import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { WorkshopSchema, type Workshop } from "./schema.js";

export const WORKSHOPS_DIR = dirname(fileURLToPath(import.meta.url));

/** One problem in one file, printed as `file: path.to.field: message`. */
export interface WorkshopProblem {
  file: string;
  path: string;
  message: string;
}

export function formatProblem(p: WorkshopProblem): string {
  return p.path ? `${p.file}: ${p.path}: ${p.message}` : `${p.file}: ${p.message}`;
}

export class WorkshopConfigError extends Error {
  override name = "WorkshopConfigError";
  constructor(readonly problems: WorkshopProblem[]) {
    super(
      `${problems.length} problem${problems.length === 1 ? "" : "s"} in workshop files:\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join("\n"),
    );
  }
}

function pathToString(path: readonly PropertyKey[]): string {
  return path
    .map((seg, i) => (typeof seg === "number" ? `[${seg}]` : i === 0 ? String(seg) : `.${String(seg)}`))
    .join("");
}

function issueToProblem(file: string, issue: z.core.$ZodIssue): WorkshopProblem[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      file,
      path: pathToString([...issue.path, key]),
      message: "is not a known field; remove it or check its spelling",
    }));
  }
  if (issue.code === "invalid_type" && issue.input === undefined) {
    return [{ file, path: pathToString(issue.path), message: `is required: ${issue.message.replace(/^must /, "it must ")}` }];
  }
  return [{ file, path: pathToString(issue.path), message: issue.message }];
}

/** Parses and validates one workshop file's text. `file` is used in messages and for the slug rule. */
export function parseWorkshop(file: string, text: string): { workshop?: Workshop; problems: WorkshopProblem[] } {
  const name = basename(file);
  if (!name.endsWith(".yaml")) {
    return { problems: [{ file, path: "", message: "workshop files must end in .yaml" }] };
  }
  if (text.trim() === "") {
    return { problems: [{ file, path: "", message: "the file is empty; run `npm run workshops:new -- <slug>` for a template" }] };
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        file,
        path: "",
        message: `is not valid YAML (${e.message.split("\n")[0]})`,
      })),
    };
  }
  const data: unknown = doc.toJS();
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { problems: [{ file, path: "", message: "must be a YAML mapping of fields (slug, name, openrouter, …)" }] };
  }
  const result = WorkshopSchema.safeParse(data, { reportInput: true });
  const problems = result.success ? [] : result.error.issues.flatMap((i) => issueToProblem(file, i));
  const expectedSlug = name.slice(0, -".yaml".length);
  const slug = (data as { slug?: unknown }).slug;
  if (typeof slug === "string" && slug !== expectedSlug) {
    problems.push({ file, path: "slug", message: `must equal the file name: rename the file to ${slug}.yaml or set slug: ${expectedSlug}` });
  }
  if (problems.length > 0) return { problems };
  return { workshop: result.data, problems };
}

/**
 * Reads every `*.yaml` in `dir`, validates all of them, and returns every workshop and every
 * problem: an organizer fixing a PR sees all mistakes in one run, not one per push.
 */
export function readWorkshops(dir: string = WORKSHOPS_DIR): { workshops: Workshop[]; problems: WorkshopProblem[] } {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort();
  const workshops: Workshop[] = [];
  const problems: WorkshopProblem[] = [];
  const display = (f: string) => relative(process.cwd(), join(dir, f)) || f;
  for (const f of files) {
    if (f.endsWith(".yml")) {
      problems.push({ file: display(f), path: "", message: "rename to .yaml (workshop files use the .yaml extension)" });
      continue;
    }
    const result = parseWorkshop(display(f), readFileSync(join(dir, f), "utf8"));
    problems.push(...result.problems);
    if (result.workshop) workshops.push(result.workshop);
  }
  return { workshops, problems };
}

/** Every valid workshop, or a `WorkshopConfigError` listing every problem of every file. */
export function loadWorkshops(dir: string = WORKSHOPS_DIR): Workshop[] {
  const { workshops, problems } = readWorkshops(dir);
  if (problems.length > 0) throw new WorkshopConfigError(problems);
  return workshops;
}
