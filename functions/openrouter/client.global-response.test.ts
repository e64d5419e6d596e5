import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createEmulator } from "../../local/emulator/index.js";
import { toUtcSeconds } from "../../workshops/derive.js";
import { createOpenRouterClient } from "./client.js";
import { NotFoundError, RateLimitedError } from "./errors.js";

/**
 * @hono/node-server swaps the global Response by default, and the local stack serves the API and
 * the emulator and calls OpenRouter in one process. A client that checked `instanceof Response`
 * (as the official SDK does) would then misread every error answer; ours classifies errors by
 * status alone, and this keeps it so. This file runs in its own process, so the swap does not leak.
 */

const MANAGEMENT_KEY = `sk-or-v1-${"77".repeat(32)}`;
const emulator = createEmulator({ managementKey: MANAGEMENT_KEY, seed: 5 });
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer(getRequestListener(emulator.app.fetch));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
});
afterAll(async () => {
  emulator.releaseHangs();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
});

it("classifies 404 and 429 by status when the global Response has been swapped", async () => {
  const client = createOpenRouterClient({ apiKey: MANAGEMENT_KEY, serverURL: url, maxAttempts: 2, retryBaseDelayMs: 10 });
  const key = await client.createKey({ name: "swap/1", limit: 1, expires_at: toUtcSeconds(Date.now() + 60_000) });
  expect(await client.deleteKey(key.hash)).toBe(true);
  expect(await client.deleteKey(key.hash)).toBe(false);
  await expect(client.getKey(key.hash)).rejects.toBeInstanceOf(NotFoundError);

  emulator.setFaults({ credits: { rateLimitRate: 1, retryAfterSeconds: 0.05 } });
  await expect(client.getCredits()).rejects.toBeInstanceOf(RateLimitedError);
  expect(emulator.stats().calls.credits).toBe(2);
});
