import { describe, expect, it } from "vitest";
import { USD_AXIS_STEPS, usdAxisLabels } from "./spend-axis.js";

describe("the spend chart's dollar axis", () => {
  it("never repeats a label, whatever step uPlot picks and wherever the ticks start", () => {
    for (const step of USD_AXIS_STEPS) {
      for (const first of [0, 7, 9.75, 10, 98, 1234]) {
        const start = Math.ceil(first / step) * step;
        const ticks = Array.from({ length: 8 }, (_, i) => Math.round((start + i * step) * 100) / 100);
        const labels = usdAxisLabels(ticks, step);
        expect(new Set(labels).size, `step ${step} from ${first}: ${labels.join(" ")}`).toBe(labels.length);
      }
    }
  });

  it("only offers steps of whole cents", () => {
    for (const step of USD_AXIS_STEPS) expect(Math.abs(step * 100 - Math.round(step * 100))).toBeLessThan(1e-9);
  });
});
