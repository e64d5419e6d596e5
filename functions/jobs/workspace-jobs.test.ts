import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTables, startLocalDynamo, type LocalDynamo } from "../../local/dynamo.js";
import { startEmulator, type RunningEmulator } from "../../local/emulator/index.js";
import { testWorkshop } from "../../local/test-stack.js";
import { keyExpiresAt, keyNamePrefix } from "../../workshops/derive.js";
import { createHousekeeping } from "../data/housekeeping.js";
import { createStore } from "../data/store.js";
import { tableNames } from "../data/tables.js";
import { createClaimEngine } from "../domain/claims.js";
import { createWorkshopCatalog } from "../domain/workshops.js";
import { createOpenRouterClient } from "../openrouter/client.js";
import { runJob, type JobDeps } from "./run.js";

/**
 * The jobs under governance "workspace", against dynalite and the emulator as an organization's
 * account: the open job ensures the workshop's workspace; sync, expire and retire read that
 * workspace's keys only (GET /keys?workspace_id=), so a tick sees this workshop's keys and no other.
 */

let dynamo: LocalDynamo;
let emu: RunningEmulator;
const names = tableNames(`ws-jobs-${process.pid}`);

beforeAll(async () => {
  [dynamo, emu] = await Promise.all([startLocalDynamo(), startEmulator({ port: 0, seed: 24, accountKind: "organization" })]);
  await ensureTables(dynamo.client, names);
});
afterAll(async () => {
  await Promise.all([emu?.close(), dynamo?.close()]);
});

describe('jobs under governance "workspace"', () => {
  it("open ensures the workspace; sync, expire and retire touch the workspace's keys only; then the workspace can be deleted", async () => {
    const clock = { ms: Date.now() };
    const now = () => clock.ms;
    const openrouter = createOpenRouterClient({ apiKey: emu.managementKey, serverURL: emu.url, retryBaseDelayMs: 10, retryMaxDelayMs: 50 });
    const store = createStore({ client: dynamo.client, tableNames: names });
    const engine = createClaimEngine({ store, openrouter, workshops: createWorkshopCatalog({ store, ttlMs: 0 }), now, governance: "workspace" });
    const deps: JobDeps = { store, housekeeping: createHousekeeping({ client: dynamo.client, tableNames: names }), engine, openrouter, now, governance: "workspace" };
    const w = testWorkshop("ws-jobs", clock.ms);
    await store.putWorkshop(w.slug, { config: w }, clock.ms);

    const opened = await runJob({ job: "open", slug: w.slug }, deps);
    expect(opened, opened.errors.join("; ")).toMatchObject({ ok: true, guardrail_recorded: true });
    const record = (await store.getWorkshop(w.slug))!;
    expect(record.workspace_id).toBe(opened.workspace_id);
    expect(record.guardrail_id).toBe(emu.emulator.state.workspaces!.find((x) => x.id === record.workspace_id)!.default_guardrail_id);
    // Again: found, nothing to record.
    expect(await runJob({ job: "open", slug: w.slug }, deps)).toMatchObject({ ok: true, guardrail_recorded: false, workspace_id: record.workspace_id });

    for (let i = 0; i < 5; i++) await engine.claim(w.slug, { userId: `ws-user-${i}`, email: `ws-user-${i}@example.com` });
    // A key under this workshop's name in the default workspace: a listing of the whole account
    // would call it an orphan and delete it; this deployment's workspace listing never sees it.
    const outside = await openrouter.createKey({ name: `${keyNamePrefix(w)}outside`, limit: 1, expires_at: keyExpiresAt(w) });

    emu.emulator.resetStats();
    const synced = await runJob({ job: "sync", slug: w.slug }, deps);
    expect(synced, synced.errors.join("; ")).toMatchObject({ ok: true, keys: 5, orphans_deleted: 0, missing_upstream: 0 });
    expect(emu.emulator.stats().calls["keys.list"]).toBe(1);
    expect(emu.emulator.state.keys.some((k) => k.hash === outside.hash && !k.disabled)).toBe(true);

    const expiry = Date.parse(keyExpiresAt(w));
    clock.ms = expiry + 60_000;
    const expired = await runJob({ job: "expire", slug: w.slug }, deps);
    expect(expired, expired.errors.join("; ")).toMatchObject({ ok: true, keys_disabled: 5 });
    expect(emu.emulator.state.keys.find((k) => k.hash === outside.hash)?.disabled).toBe(false);

    clock.ms = expiry + 31 * 60_000;
    const retired = await runJob({ job: "sync", slug: w.slug }, deps);
    expect(retired, retired.errors.join("; ")).toMatchObject({ ok: true, keys_deleted: 5 });
    expect(emu.emulator.state.keys.filter((k) => k.workspace_id === record.workspace_id)).toEqual([]);
    expect(emu.emulator.state.keys.some((k) => k.hash === outside.hash)).toBe(true);
    // Emptied by retire, the workspace is one upstream lets go of.
    expect(await openrouter.deleteWorkspace(record.workspace_id!)).toBe(true);
  }, 60_000);
});
