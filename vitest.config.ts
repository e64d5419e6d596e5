import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{workshops,functions,infra,web,local}/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Fails the run when any test process prints an OpenRouter key (DEVELOPERS: secrets stay secret).
    globalSetup: ["local/vitest-global.ts"],
    setupFiles: ["local/log-guard.ts"],
  },
});
