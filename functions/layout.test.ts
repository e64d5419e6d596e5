import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * functions/ is what the Lambdas are built from: its code reaches nothing in local/ (emulators,
 * dynalite, test stacks). Test files may use local/'s real parts; nothing else here may.
 */

const FUNCTIONS = dirname(fileURLToPath(import.meta.url));
const LOCAL = resolve(FUNCTIONS, "..", "local");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [path] : [];
  });
}

/** Every module specifier a file names: static and dynamic imports, re-exports. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)) found.push(m[1]!);
  return found;
}

describe("functions/ (the Lambdas' code)", () => {
  const files = sourceFiles(FUNCTIONS);

  it("has production files to check", () => {
    expect(files.length).toBeGreaterThan(20);
    expect(files.map((f) => relative(FUNCTIONS, f))).toContain(join("api", "handler.ts"));
  });

  it("imports nothing from local/, so no test helper or emulator can reach a bundle", () => {
    const offenders = files.flatMap((file) =>
      specifiers(readFileSync(file, "utf8"))
        .filter((s) => s.startsWith("."))
        .filter((s) => {
          const target = resolve(dirname(file), s);
          return target === LOCAL || target.startsWith(`${LOCAL}/`);
        })
        .map((s) => `${relative(FUNCTIONS, file)} imports ${s}`),
    );
    expect(offenders).toEqual([]);
  });
});
