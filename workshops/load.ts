import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { z } from "zod";
import { effectiveCapacity, roundUsd } from "./derive.js";
import { WorkshopSchema, type Workshop } from "./schema.js";
import { countOf } from "./wording.js";

export const WORKSHOPS_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * What `npm run workshops:new` leaves for the organizer to fill in. A file still holding one is not
 * a workshop yet: the check fails until each is replaced.
 */
export const TEMPLATE_PLACEHOLDER = "FILL-IN";
export const TEMPLATE_ORGANIZER = "you@example.com";

/** One problem in one file, printed as `file:line: path.to.field: message`. */
export interface WorkshopProblem {
  file: string;
  /** 1-based line of the field in the file (of its nearest enclosing field when it is missing). */
  line?: number;
  path: string;
  message: string;
}

export function formatProblem(p: WorkshopProblem): string {
  const where = p.line ? `${p.file}:${p.line}` : p.file;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

export class WorkshopConfigError extends Error {
  override name = "WorkshopConfigError";
  constructor(readonly problems: WorkshopProblem[]) {
    super(
      `${countOf(problems.length, "problem")} in workshop files:\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join("\n"),
    );
  }
}

function pathToString(path: readonly PropertyKey[]): string {
  return path
    .map((seg, i) => (typeof seg === "number" ? `[${seg}]` : i === 0 ? String(seg) : `.${String(seg)}`))
    .join("");
}

function issueToProblem(file: string, issue: z.core.$ZodIssue): Omit<WorkshopProblem, "line">[] {
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

/** "openrouter.models[1].id" → ["openrouter", "models", 1, "id"] */
function pathSegments(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/**
 * The line a field is on: its value's, or its key's when it has no value; for a field that is not
 * there at all, the line of the nearest field around it that is.
 */
function lineOf(doc: Document, lines: LineCounter, path: string): number | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0];
  for (const seg of pathSegments(path)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) break;
      offset = (pair.value as Node | null)?.range?.[0] ?? (pair.key as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg]) {
      node = node.items[seg];
      offset = (node as Node).range?.[0] ?? offset;
    } else break;
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

/** Every scalar still holding what the template left to fill in, with its path. */
function templateLeftovers(doc: Document): { path: string; message: string }[] {
  const found: { path: string; message: string }[] = [];
  const visit = (node: unknown, path: (string | number)[]) => {
    if (isMap(node)) for (const p of node.items) visit(p.value, [...path, isScalar(p.key) ? String(p.key.value) : String(p.key)]);
    else if (isSeq(node)) node.items.forEach((n, i) => visit(n, [...path, i]));
    else if (isScalar(node) && typeof node.value === "string") {
      if (node.value.includes(TEMPLATE_PLACEHOLDER)) {
        found.push({ path: pathToString(path), message: `still says ${TEMPLATE_PLACEHOLDER} from the template: replace it with this workshop's value` });
      } else if (node.value.trim().toLowerCase() === TEMPLATE_ORGANIZER) {
        found.push({ path: pathToString(path), message: `is the template's example address: list the organizers' own emails (they sign in with them)` });
      }
    }
  };
  visit(doc.contents, []);
  return found;
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
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        file,
        line: e.linePos?.[0]?.line,
        path: "",
        message: `is not valid YAML (${e.message.split("\n")[0]})`,
      })),
    };
  }
  const data: unknown = doc.toJS();
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { problems: [{ file, line: 1, path: "", message: "must be a YAML mapping of fields (slug, name, openrouter, …)" }] };
  }
  // A placeholder is the one thing to say about its field: "not a timestamp" would hide the cause.
  const leftovers = templateLeftovers(doc);
  const covered = new Set(leftovers.map((l) => l.path));
  const result = WorkshopSchema.safeParse(data, { reportInput: true });
  const found: Omit<WorkshopProblem, "line">[] = [
    ...leftovers.map((l) => ({ file, ...l })),
    ...(result.success ? [] : result.error.issues.flatMap((i) => issueToProblem(file, i)).filter((p) => !covered.has(p.path))),
  ];
  const expectedSlug = name.slice(0, -".yaml".length);
  const slug = (data as { slug?: unknown }).slug;
  if (typeof slug === "string" && slug !== expectedSlug) {
    found.push({ file, path: "slug", message: `must equal the file name: rename the file to ${slug}.yaml or set slug: ${expectedSlug}` });
  }
  if (result.success && effectiveCapacity(result.data) === 0) {
    const { budget_usd, guardrail } = result.data.openrouter;
    found.push({
      file,
      path: "openrouter.guardrail.cap_usd",
      message: `is $${guardrail.cap_usd}, less than one key's budget_usd ($${budget_usd}): this workshop can hand out 0 keys. Raise cap_usd to budget_usd × the keys you want (e.g. $${roundUsd(budget_usd * guardrail.max_keys)} for ${countOf(guardrail.max_keys, "key")}) or lower budget_usd`,
    });
  }
  const problems = found.map((p) => ({ ...p, line: lineOf(doc, lines, p.path) }));
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
