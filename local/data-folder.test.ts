import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEMO_SLUG } from "./demo.js";
import { startLocalStack, type LocalStack } from "./stack.js";
import { callApi, signIn, spawnNpmStart, tempDirs, waitForRunningUrl, workshopFileAround, writeWorkshopFiles } from "./testing.js";

/**
 * The data folder as `npm start` leaves it: a process killed in the middle of a burst of claims
 * (SIGKILL, no chance to flush anything) restarts with every stored key still working upstream; a
 * folder whose files were cut short gives one clear error that names it and says how to go on, and
 * nothing in it is replaced.
 */

const tempDir = tempDirs();

/** Signs `who` in on the stack at `url`, fills in the profile and claims a key of `slug`: the claim's answer. */
async function claimAs(url: string, who: string, slug = DEMO_SLUG) {
  const token = await signIn(url, `${who}@example.com`, { name: who });
  await callApi(url, token, "PUT", "/api/me", { display_name: who, marketing_opted_in: false });
  return callApi(url, token, "POST", `/api/workshops/${slug}/claim`);
}

/** A folder a stack was stopped cleanly in, after one claim. */
async function cleanlyStoppedFolder(): Promise<string> {
  const dataDir = tempDir("wkm-clean-");
  const stack = await startLocalStack({ port: 0, dataDir, quiet: true });
  expect((await claimAs(stack.url, "clean")).status).toBe(201);
  await stack.close();
  return dataDir;
}

function copyOf(dir: string, prefix: string): string {
  const copy = tempDir(prefix);
  cpSync(dir, copy, { recursive: true });
  return copy;
}

function cutInHalf(file: string): void {
  truncateSync(file, Math.floor(statSync(file).size / 2));
}

/** Every file and its size: to show a refused start changed nothing of the data. */
function snapshot(dir: string, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, existsSync(join(dir, n)) ? readFileSync(join(dir, n)).toString("base64") : "<missing>"]));
}

async function expectRefused(dataDir: string, what: RegExp): Promise<string> {
  const err = (await startLocalStack({ port: 0, dataDir, quiet: true }).catch((e: unknown) => e)) as Error;
  expect(err, "the start was refused").toBeInstanceOf(Error);
  expect(err.name).toBe("LocalStackError");
  expect(err.message).toContain(`The data folder ${dataDir} is damaged`);
  expect(err.message).toMatch(what);
  // How to go on: keep it aside, another folder, or delete it.
  expect(err.message).toContain(`mv ${dataDir} ${dataDir}.damaged-`);
  expect(err.message).toContain("npm start -- --data <another folder>");
  expect(err.message).toContain(`rm -rf ${dataDir}`);
  return err.message;
}

describe("a stack killed in the middle of a burst of claims", () => {
  it("restarts with every stored key still working upstream", { timeout: 180_000 }, async () => {
    const dataDir = tempDir("wkm-killed-");
    const cli = spawnNpmStart(["--port", "0", "--data", dataDir]);
    const url = await waitForRunningUrl(cli);
    const people = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const token = await signIn(url, `burst-${i}@example.com`, { name: `Burst ${i}` });
        expect((await callApi(url, token, "PUT", "/api/me", { display_name: `Burst ${i}`, marketing_opted_in: false })).status).toBe(200);
        return token;
      }),
    );

    // Everyone claims at once; the process is killed once a few keys were handed out.
    let answered = 0;
    const burst = people.map((token) =>
      callApi(url, token, "POST", `/api/workshops/${DEMO_SLUG}/claim`).then(
        (r) => {
          if (r.status === 201 && ++answered === 8) cli.child.kill("SIGKILL");
          return r.status;
        },
        () => "cut off",
      ),
    );
    const outcomes = await Promise.all(burst);
    expect((await cli.exited).signal).toBe("SIGKILL");
    expect(outcomes.filter((o) => o === 201).length).toBeGreaterThanOrEqual(8);
    expect(outcomes).toContain("cut off");

    const stack: LocalStack = await startLocalStack({ port: 0, dataDir, quiet: true });
    try {
      const claims = await stack.store.listClaims(DEMO_SLUG);
      const holding = claims.filter((c) => c.key && ["MINTED", "ACTIVE", "UNBOUND"].includes(c.status));
      expect(holding.length).toBeGreaterThanOrEqual(8);
      // Every key the database holds, the emulator still has: it wrote each one before answering.
      for (const c of holding) {
        const res = await fetch(`${stack.openrouterBaseUrl}/key`, { headers: { authorization: `Bearer ${c.key}` } });
        expect(res.status, `the key of ${c.email} (${c.status})`).toBe(200);
        await res.arrayBuffer();
      }
      const known = new Set(stack.emulator!.state.keys.map((k) => k.hash));
      expect(holding.filter((c) => !known.has(c.key_hash!))).toEqual([]);
    } finally {
      await stack.close();
    }
  });
});

describe("a damaged data folder", () => {
  it("whose database index was cut short: one clear error naming the folder and the ways on", async () => {
    const clean = await cleanlyStoppedFolder();
    const current = copyOf(clean, "wkm-current-");
    cutInHalf(join(current, "dynamodb", "CURRENT"));
    await expectRefused(current, /local DynamoDB .* cannot be read \(Corruption: CURRENT/);

    const manifest = copyOf(clean, "wkm-manifest-");
    const manifestFile = readdirSync(join(manifest, "dynamodb")).find((f) => f.startsWith("MANIFEST-"))!;
    cutInHalf(join(manifest, "dynamodb", manifestFile));
    await expectRefused(manifest, /cannot be read \(Corruption/);
  });

  it("whose table file was cut short after a clean stop", async () => {
    const dataDir = copyOf(await cleanlyStoppedFolder(), "wkm-table-");
    const tables = readdirSync(join(dataDir, "dynamodb")).filter((f) => f.endsWith(".ldb"));
    // A clean stop leaves the data in checksummed table files, not in a log LevelDB would forgive.
    expect(tables.length).toBeGreaterThan(0);
    for (const t of tables) cutInHalf(join(dataDir, "dynamodb", t));
    await expectRefused(dataDir, /cannot be read/);
  });

  it("whose database log was emptied after a crash: refused, not started empty", async () => {
    const dataDir = tempDir("wkm-log-");
    const cli = spawnNpmStart(["--port", "0", "--data", dataDir]);
    const url = await waitForRunningUrl(cli);
    expect((await claimAs(url, "crash")).status).toBe(201);
    cli.child.kill("SIGKILL");
    await cli.exited;
    const logs = readdirSync(join(dataDir, "dynamodb")).filter((f) => f.endsWith(".log"));
    expect(logs.length).toBeGreaterThan(0);
    for (const l of logs) truncateSync(join(dataDir, "dynamodb", l), 0);
    await expectRefused(dataDir, /no longer holds the table\(s\) local-attendees, local-workshops/);
  });

  it("is not mistaken for damage when another stack has it open", async () => {
    const dataDir = tempDir("wkm-in-use-");
    const running = await startLocalStack({ port: 0, dataDir, quiet: true });
    try {
      const err = (await startLocalStack({ port: 0, dataDir, quiet: true }).catch((e: unknown) => e)) as Error;
      expect(err.message).toBe(`The data folder ${dataDir} is in use by another process (another local stack?): stop it first, or start this one with --data <another folder>.`);
      expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    } finally {
      await running.close();
    }
  });

  it("says so on the command line in one message, exit 1, no stack trace", async () => {
    const dataDir = copyOf(await cleanlyStoppedFolder(), "wkm-cli-damaged-");
    cutInHalf(join(dataDir, "dynamodb", "CURRENT"));
    const cli = spawnNpmStart(["--port", "0", "--data", dataDir]);
    const { code } = await cli.exited;
    expect(code).toBe(1);
    expect(cli.output()).toContain(`The local stack did not start.\nThe data folder ${dataDir} is damaged`);
    expect(cli.output()).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it("refuses a damaged key namespace and changes nothing; a missing one comes back from the database", async () => {
    const clean = await cleanlyStoppedFolder();
    const namespace = readFileSync(join(clean, "key-namespace"), "utf8").trim();
    const damaged = copyOf(clean, "wkm-namespace-");
    cutInHalf(join(damaged, "key-namespace"));
    const files = ["key-namespace", "openrouter-emulator.json"];
    const before = snapshot(damaged, files);
    const message = await expectRefused(damaged, /key-namespace does not hold a key namespace/);
    // The way back is in the message: the namespace the database recorded.
    expect(message).toContain(`echo ${namespace} > ${join(damaged, "key-namespace")}`);
    expect(snapshot(damaged, files)).toEqual(before);

    // Edited by hand into another valid-looking namespace: refused too.
    writeFileSync(join(damaged, "key-namespace"), "local-00000000\n");
    await expectRefused(damaged, new RegExp(`holds local-00000000, but the database recorded ${namespace}`));

    const missing = copyOf(clean, "wkm-namespace-gone-");
    rmSync(join(missing, "key-namespace"));
    const restarted = await startLocalStack({ port: 0, dataDir: missing, quiet: true });
    await restarted.close();
    expect(readFileSync(join(missing, "key-namespace"), "utf8").trim()).toBe(namespace);
  });

  it("whose emulator state was cut short: refused with what going on without it means", async () => {
    const dataDir = copyOf(await cleanlyStoppedFolder(), "wkm-emulator-");
    cutInHalf(join(dataDir, "openrouter-emulator.json"));
    const message = await expectRefused(dataDir, /openrouter-emulator\.json is not valid JSON/);
    expect(message).toContain("the next sync gives each claim a new key");
  });
});

describe("a data folder in use", () => {
  it("refuses a second stack before it writes anything: the demo workshop and the site stay as the running stack made them", async () => {
    const dataDir = tempDir("wkm-locked-");
    const running = await startLocalStack({ port: 0, dataDir, quiet: true });
    try {
      const watched = ["demo-workshop.json", "site/index.html", "site/.local-stack-build.json", "key-namespace", "scheduler.json"];
      const state = () => Object.fromEntries(watched.map((f) => [f, `${statSync(join(dataDir, f)).mtimeMs} ${readFileSync(join(dataDir, f)).toString("base64")}`]));
      const before = state();
      // A month later on its clock the second start would make a new demo workshop and rebuild the site.
      const at = new Date(Date.now() + 30 * 24 * 3_600_000).toISOString();
      const err = (await startLocalStack({ port: 0, dataDir, quiet: true, at }).catch((e: unknown) => e)) as Error;
      expect(err.message).toBe(`The data folder ${dataDir} is in use by another process (another local stack?): stop it first, or start this one with --data <another folder>.`);
      expect(state()).toEqual(before);
      expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    } finally {
      await running.close();
    }
    // Once the first has stopped, the folder is free again.
    const next = await startLocalStack({ port: 0, dataDir, quiet: true });
    await next.close();
  });
});

describe("the data folder's secrets", () => {
  /** Every file and folder under `dir` whose mode lets anyone but the owner in, with that mode. */
  function openToOthers(dir: string): string[] {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .map((e) => join(e.parentPath, e.name))
      .filter((p) => (statSync(p).mode & 0o077) !== 0)
      .map((p) => `${p.slice(dir.length + 1)} ${(statSync(p).mode & 0o777).toString(8)}`);
  }

  it("npm start makes it owner-only: 0700 folders, 0600 files, the database's and the site's included", { timeout: 120_000 }, async () => {
    const dataDir = join(tempDir("wkm-modes-"), "data");
    const cli = spawnNpmStart(["--port", "0", "--data", dataDir]);
    const url = await waitForRunningUrl(cli);
    expect((await claimAs(url, "modes")).status).toBe(201);
    cli.child.kill("SIGINT");
    expect((await cli.exited).code).toBe(0);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const names = readdirSync(dataDir, { recursive: true }).map(String);
    for (const made of ["dynamodb/CURRENT", "oidc", "openrouter-emulator.json", "openrouter-emulator-management-key", "key-namespace", "demo-workshop.json", "site/index.html"]) {
      expect(names, made).toContain(made);
    }
    expect(openToOthers(dataDir)).toEqual([]);
  });

  it("tightens a folder an older start left open to others", async () => {
    const dataDir = tempDir("wkm-open-");
    chmodSync(dataDir, 0o755);
    const stack = await startLocalStack({ port: 0, dataDir, quiet: true });
    await stack.close();
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  });

  it("keeps no copy of a key on disk once the expire job scrubbed it", { timeout: 120_000 }, async () => {
    const openAt = Date.parse("2026-05-04T10:00:00Z");
    const workshopsDir = writeWorkshopFiles(tempDir("wkm-scrub-workshops-"), [workshopFileAround("scrub-test", openAt)]);
    const dataDir = tempDir("wkm-scrub-");
    const quietScheduler = { schedulerIntervalMs: 3_600_000, demo: false, workshopsDir, dataDir, port: 0, quiet: true };
    const during = await startLocalStack({ ...quietScheduler, at: new Date(openAt).toISOString() });
    let key: string;
    try {
      const claim = await claimAs(during.url, "scrub", "scrub-test");
      expect(claim.status).toBe(201);
      key = claim.body.key.key as string;
      expect(key).toMatch(/^sk-or-v1-[0-9a-f]{64}$/);
    } finally {
      await during.close();
    }
    // The claim's key is on disk now (a clean stop moved it into a table file), as it must be.
    const secret = key.slice("sk-or-v1-".length);
    // Pieces of the key's random part: a table file stores its blocks compressed, which may split a
    // long string but not every 12-character piece of one.
    const pieces = Array.from({ length: secret.length - 11 }, (_, i) => Buffer.from(secret.slice(i, i + 12)));
    const holdingKey = () =>
      readdirSync(join(dataDir, "dynamodb"))
        .filter((f) => pieces.some((p) => readFileSync(join(dataDir, "dynamodb", f)).includes(p)))
        .sort();
    expect(holdingKey().length, "the key is stored before expiry").toBeGreaterThan(0);

    // Half an hour after the workshop's end plus its expiry buffer: the expire job is due.
    const after = await startLocalStack({ ...quietScheduler, at: new Date(openAt + 4 * 3_600_000).toISOString() });
    try {
      const runs = await after.scheduler.tick();
      const expire = runs.find((r) => r.input.job === "expire");
      expect(expire?.ok, expire?.error).toBe(true);
      const [claim] = await after.store.listClaims("scrub-test");
      expect(claim?.status).toBe("EXPIRED");
      expect(claim?.key).toBeUndefined();
      expect(holdingKey(), "files holding the scrubbed key while the stack runs").toEqual([]);
    } finally {
      await after.close();
    }
    expect(holdingKey(), "files holding the scrubbed key after a stop").toEqual([]);
  });
});
