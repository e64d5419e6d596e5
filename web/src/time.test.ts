import { describe, expect, it } from "vitest";
import { formatUsd } from "./time.js";

describe("formatUsd, the one money format of every page", () => {
  it("prints dollars and cents, and '< $0.01' for a spend below one cent, never more decimals", () => {
    expect(formatUsd(0)).toBe("$0.00");
    expect(formatUsd(0.00004)).toBe("< $0.01");
    expect(formatUsd(0.0099)).toBe("< $0.01");
    expect(formatUsd(0.01)).toBe("$0.01");
    expect(formatUsd(0.6)).toBe("$0.60");
    expect(formatUsd(17)).toBe("$17.00");
    for (const amount of [0.00001, 0.003, 0.25, 1.4, 99.99, 1234.5]) expect(formatUsd(amount)).toMatch(/^(< \$0\.01|\$\d+\.\d\d)$/);
  });
});
