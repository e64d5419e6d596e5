import { afterEach, expect, it, vi } from "vitest";
import { createEmfObserver } from "./emf.js";
import { point } from "./observer.js";

/**
 * One Metrics instance serves the whole container (emf.ts): each data point must still be its own
 * EMF record, with only its own dimensions, however the points follow one another.
 */

afterEach(() => {
  vi.restoreAllMocks();
});

it("prints each data point as its own record, with only its own dimension sets", () => {
  const lines: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
  const observe = createEmfObserver();
  observe(point("ClaimsRefused", 1, { workshop: "w2", reason: "sold_out" }));
  observe(point("ClaimLatency", 42));
  observe(point("ClaimsMinted", 1, { workshop: "w1" }));
  vi.restoreAllMocks();

  const records = lines.map((l) => JSON.parse(l) as { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } } & Record<string, unknown>);
  expect(records.map((r) => r._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name))).toEqual([["ClaimsRefused"], ["ClaimLatency"], ["ClaimsMinted"]]);
  expect(records.map((r) => r._aws.CloudWatchMetrics[0]!.Dimensions)).toEqual([
    [["service", "workshop", "reason"], ["service", "reason"]],
    [["service"]],
    [["service", "workshop"], ["service"]],
  ]);
  expect(records[1]).not.toHaveProperty("workshop");
  expect(records[2]).not.toHaveProperty("reason");
  expect(records[2]).toMatchObject({ workshop: "w1", ClaimsMinted: 1 });
});
