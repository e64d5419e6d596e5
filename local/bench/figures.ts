import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The bench's figures, each with the value of the previous run beside it (`baseline.json`, committed:
 * `npm run bench -- --save-baseline` replaces it with this run's figures) and, where the product
 * promises or aims at something, the limit and whether this run kept it.
 */

export const BASELINE_FILE = fileURLToPath(new URL("./baseline.json", import.meta.url));

export interface Limit {
  /** "max": the figure must stay at or below `value`; "min": at or above. */
  kind: "max" | "min";
  value: number;
  /** A promise (README "Guarantees"): the bench exits 1 when it is broken. Otherwise a target to report. */
  promise: boolean;
}

export interface Figure {
  id: string;
  section: string;
  label: string;
  value: number | null;
  unit: string;
  previous: number | null;
  limit?: Limit;
  /** Whether the value keeps its limit (absent without one). */
  ok?: boolean;
  note?: string;
}

export interface Baseline {
  generated_at: string;
  note?: string;
  machine?: Record<string, unknown>;
  figures: Record<string, number | null>;
}

export function readBaseline(file = BASELINE_FILE): Baseline | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Baseline;
  } catch {
    return undefined;
  }
}

export function writeBaseline(figures: readonly Figure[], machine: Record<string, unknown>, file = BASELINE_FILE): void {
  const baseline: Baseline = {
    generated_at: new Date().toISOString(),
    machine,
    figures: Object.fromEntries(figures.map((f) => [f.id, f.value])),
  };
  writeFileSync(file, `${JSON.stringify(baseline, null, 2)}\n`);
}

export class FigureBook {
  readonly figures: Figure[] = [];
  private printedSections = new Set<string>();

  constructor(
    private readonly baseline: Baseline | undefined,
    private readonly print: (line: string) => void,
  ) {}

  /** Records a figure and prints it under its section. */
  add(section: string, id: string, label: string, value: number | null, unit: string, opts: { limit?: Limit; note?: string } = {}): Figure {
    const previous = this.baseline?.figures[id] ?? null;
    const ok = opts.limit && value !== null ? (opts.limit.kind === "max" ? value <= opts.limit.value : value >= opts.limit.value) : undefined;
    const figure: Figure = { id, section, label, value, unit, previous, ...(opts.limit ? { limit: opts.limit, ok } : {}), ...(opts.note ? { note: opts.note } : {}) };
    this.figures.push(figure);
    if (!this.printedSections.has(section)) {
      this.printedSections.add(section);
      this.print(`\n${section}`);
    }
    const shown = (v: number | null) => (v === null ? "-" : `${formatNumber(v)}${unit ? ` ${unit}` : ""}`);
    const verdict = figure.limit ? `  ${ok ? "ok" : figure.limit.promise ? "BROKEN" : "MISSED"} (${figure.limit.kind === "max" ? "<=" : ">="} ${formatNumber(figure.limit.value)})` : "";
    this.print(`  ${label.padEnd(58)} ${shown(value).padStart(12)}   previous ${shown(previous).padStart(12)}${verdict}${opts.note ? `  ${opts.note}` : ""}`);
    return figure;
  }

  /** Promises this run broke. */
  broken(): Figure[] {
    return this.figures.filter((f) => f.limit?.promise && f.ok === false);
  }

  missed(): Figure[] {
    return this.figures.filter((f) => f.limit && !f.limit.promise && f.ok === false);
  }
}

function formatNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
}
