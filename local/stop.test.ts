import { afterAll, describe, expect, it } from "vitest";
import { DEMO_SLUG } from "./demo.js";
import { startLocalStack, type LocalStack } from "./stack.js";
import { callApi, signIn, tempDirs } from "./testing.js";

/**
 * A stop while requests are under way: a page polling, a claim half-way through its OpenRouter call.
 * The requests under way are answered in full before the database closes (a request still running
 * when dynalite closes its LevelDB failed inside it, outside any caller, as an unhandled
 * "Database is closed" that failed the whole test run), new ones get a clear 503, and the next start
 * on the same folder finds the claim complete.
 */

const tempDir = tempDirs();

describe("stopping the local stack while it answers", () => {
  const dataDir = tempDir("wkm-stop-");
  let stack: LocalStack | undefined;
  afterAll(async () => {
    await stack?.close();
  });

  it("answers the requests under way, refuses new ones with 503, and loses nothing", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      stack = await startLocalStack({ port: 0, dataDir, quiet: true });
      const url = stack.url;
      const token = await signIn(url, "stop@example.com", { name: "Stop" });
      expect((await callApi(url, token, "PUT", "/api/me", { display_name: "Stop", marketing_opted_in: false, workshop: DEMO_SLUG })).status).toBe(200);

      // The claim's key creation takes 800 ms upstream: the stop begins while it is under way.
      stack.emulator!.setFaults({ "keys.create": { latencyMs: 800 } });
      const claim = callApi(url, token, "POST", `/api/workshops/${DEMO_SLUG}/claim`);
      // A page polling the status the whole time.
      let polling = true;
      const polls: Promise<number>[] = [];
      const poller = (async () => {
        while (polling) {
          polls.push(fetch(`${url}/api/workshops/${DEMO_SLUG}`).then((r) => r.arrayBuffer().then(() => r.status), () => 0));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await waitUntil(() => stack!.emulator!.stats().calls["keys.create"] === 1);

      const stopping = stack.close();
      // Once the stop has begun, a new API request is told so, not handed to parts being closed.
      const late = await fetch(`${url}/api/workshops/${DEMO_SLUG}`).then(
        async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string } } }),
        () => undefined,
      );
      polling = false;
      await stopping;
      await poller;
      stack = undefined;

      const answered = await claim;
      expect(answered.status).toBe(201);
      expect(answered.body.key.status).toBe("ACTIVE");
      // The listener may already be gone (refused connection) or answer 503 "stopping"; never a 500.
      if (late) expect(late).toMatchObject({ status: 503, body: { error: { code: "stopping" } } });
      for (const status of await Promise.all(polls)) expect([0, 200, 503]).toContain(status);
      // Unhandled rejections surface on the next turns of the event loop.
      await new Promise((r) => setTimeout(r, 200));
      expect(unhandled.map(String)).toEqual([]);

      stack = await startLocalStack({ port: 0, dataDir, quiet: true });
      const again = await signIn(stack.url, "stop@example.com");
      const read = await callApi(stack.url, again, "GET", `/api/workshops/${DEMO_SLUG}/key`);
      expect(read.status).toBe(200);
      expect(read.body.key).toBe(answered.body.key.key);
      expect(stack.emulator!.state.keys.length).toBe(1);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("timed out waiting for the condition");
    await new Promise((r) => setTimeout(r, 5));
  }
}
