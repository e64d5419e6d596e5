import { describe, expect, it } from "vitest";
import { findKeyLeak } from "./log-guard.js";

describe("the secret guard", () => {
  const key = "sk-or-v1-" + "0123456789abcdef".repeat(4);

  it("finds a key in a log line and reports the place without the key", () => {
    const leak = findKeyLeak(`minted {"key":"${key}","hash":"abc"}`);
    expect(leak).toContain("sk-or-v1-<redacted>");
    expect(leak).not.toContain(key.slice(9));
  });

  it("ignores the bare prefix and masked keys", () => {
    expect(findKeyLeak("keys start with sk-or-v1- and are 64 hex long")).toBeUndefined();
    expect(findKeyLeak("sk-or-v1-0123…cdef")).toBeUndefined();
  });
});
