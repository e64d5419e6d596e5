import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEYS_PAGE_SIZE } from "../../functions/openrouter/client.js";
import { startBenchRig, type BenchRig } from "./rig.js";
import { measureTick, type TickFigures } from "./tick.js";

/**
 * Issue #24's promise, measured on the real parts (dynalite, the emulator) with the bench's
 * counters: with 10 live workshops × 300 claims, one sync tick reads at most a fifth of what 10
 * independent syncs read before the tick (DynamoDB calls and items), and lists the keys once.
 */

const WORKSHOPS = 10;
const CLAIMS = 300;

describe("the sync tick with 10 live workshops × 300 claims", () => {
  let rig: BenchRig;
  let f: TickFigures;

  beforeAll(async () => {
    rig = await startBenchRig();
    f = await measureTick(rig, WORKSHOPS, CLAIMS);
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
  });

  it("reads at most a fifth of the DynamoDB calls and items that independent syncs read before", () => {
    expect(f.tick.reads).toBeGreaterThan(0);
    expect(f.tick.reads * 5).toBeLessThanOrEqual(f.before.reads);
    expect(f.tick.items * 5).toBeLessThanOrEqual(f.before.items);
    // Each workshop's own claims once, and little else.
    expect(f.tick.items).toBeGreaterThanOrEqual(WORKSHOPS * CLAIMS);
    expect(f.tick.items).toBeLessThan(WORKSHOPS * CLAIMS + 10 * WORKSHOPS);
  });

  it("lists the account's keys once for every workshop", () => {
    const pages = Math.floor((WORKSHOPS * CLAIMS) / KEYS_PAGE_SIZE) + 1;
    expect(f.tick.listPages).toBe(pages);
    expect(f.independent.listPages).toBe(WORKSHOPS * pages);
  });
});
