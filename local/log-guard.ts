/**
 * The test run's secret guard: every line any test process prints (console, stdout, stderr) is
 * scanned for an OpenRouter key. A hit is recorded, without the key, in the file named by
 * LOG_GUARD_FILE; the global teardown (`local/vitest-global.ts`) fails the run when the file is
 * not empty. Installed as a vitest setup file, so it covers servers started inside tests too.
 */
import { appendFileSync } from "node:fs";
import { expect } from "vitest";

/** Real keys are `sk-or-v1-` + 64 hex; a shorter tail still leaks most of a key. */
export const KEY_PATTERN = /sk-or-v1-[0-9a-f]{16,}/;

export function findKeyLeak(text: string): string | undefined {
  const m = KEY_PATTERN.exec(text);
  if (!m) return undefined;
  // Report where, not what: the line with the key replaced.
  const line = text.slice(Math.max(0, m.index - 80), m.index + m[0].length + 40);
  return line.replace(new RegExp(KEY_PATTERN.source, "g"), "sk-or-v1-<redacted>").replace(/\s+/g, " ");
}

function record(source: string, text: string): void {
  const leak = findKeyLeak(text);
  const file = process.env.LOG_GUARD_FILE;
  if (leak && file) appendFileSync(file, `${source} (${process.env.VITEST_POOL_ID ?? "?"}, ${currentTest()}): ${leak}\n`);
}

const toText = (args: unknown[]) =>
  args.map((a) => (typeof a === "string" ? a : a instanceof Error ? `${a.message}\n${a.stack}` : safeJson(a))).join(" ");

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    record(`console.${method}`, toText(args));
    original(...args);
  };
}

for (const stream of [process.stdout, process.stderr]) {
  const original = stream.write.bind(stream) as (...a: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    record(stream === process.stdout ? "stdout" : "stderr", typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return original(chunk, ...rest);
  }) as typeof stream.write;
}

function currentTest(): string {
  try {
    return expect.getState().currentTestName ?? "setup";
  } catch {
    return "outside a test";
  }
}
