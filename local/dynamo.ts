import { createRequire } from "node:module";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { RequestListener, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createDynamoClient } from "../functions/data/dynamo-client.js";

export { ensureTables } from "../functions/data/ensure-tables.js";

/**
 * An in-process DynamoDB (dynalite) on loopback: persisted under `dataDir` when given (so a restart
 * of the local stack loses nothing), in memory otherwise (tests).
 */

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

/** dynalite's LevelDB (classic-level), as far as this file uses it. */
interface DynaliteLevel {
  open(options: { passive: true }): Promise<void>;
  keys(options: unknown): ClosableIterator;
  values(options: unknown): ClosableIterator;
  compactRange(start: Uint8Array, end: Uint8Array, options: { keyEncoding: "buffer" }): Promise<void>;
}

interface ClosableIterator {
  close(): Promise<void>;
  return?: () => Promise<void>;
}

// dynalite is CommonJS without type declarations.
const requireHere = createRequire(import.meta.url);
const dynalite = requireHere("dynalite") as (opts: DynaliteOptions) => Server;
const dynaliteStore = requireHere("dynalite/db") as { create(opts: DynaliteOptions): { db: DynaliteLevel } };

/**
 * A dynalite server and the LevelDB under it. dynalite keeps its store to itself, but it makes the
 * store with `require("./db").create(...)` during the call, looked up on the module's exports: a
 * wrapper there for the length of the call hands it over.
 */
function createDynalite(opts: DynaliteOptions): { server: Server; db: DynaliteLevel } {
  const create = dynaliteStore.create;
  let db: DynaliteLevel | undefined;
  dynaliteStore.create = (o) => {
    const store = create(o);
    db = store.db;
    return store;
  };
  try {
    const server = dynalite(opts);
    if (!db) throw new Error("dynalite no longer makes its store through dynalite/db's create(): see createDynalite in local/dynamo.ts");
    closeIteratorsOnReturn(db);
    return { server, db };
  } finally {
    dynaliteStore.create = create;
  }
}
// The LevelDB binding dynalite stores its data with (its own dependency, opened the same way).
const { Level } = createRequire(requireHere.resolve("dynalite"))("level") as {
  Level: new (path: string, opts: { createIfMissing: boolean }) => {
    open(): Promise<void>;
    iterator(): AsyncIterable<[string, string]>;
    close(): Promise<void>;
  };
};

/** Another process (another local stack on the same data folder) has the database open. */
export class DatabaseInUseError extends Error {
  override name = "DatabaseInUseError";
  constructor(
    readonly dir: string,
    options?: { cause?: unknown },
  ) {
    super(`another process has the local DynamoDB in ${dir} open`, options);
  }
}

/** The database files cannot be opened or read: damaged (cut short, overwritten). */
export class DamagedDatabaseError extends Error {
  override name = "DamagedDatabaseError";
  constructor(
    readonly dir: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`the local DynamoDB in ${dir} cannot be read (${reason})`, options);
  }
}

/** A LevelDB that would not open or read: in use by another process (its lock is held), else damaged. */
function openFailure(dir: string, err: unknown): DatabaseInUseError | DamagedDatabaseError {
  const cause = (err as { cause?: unknown }).cause ?? err;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return /\block\b/i.test(reason) ? new DatabaseInUseError(dir, { cause: err }) : new DamagedDatabaseError(dir, reason, { cause: err });
}

/** Reads every entry of the LevelDB once. Throws DamagedDatabaseError when the files cannot be opened or read. */
async function readWholeDatabase(dir: string): Promise<void> {
  const db = new Level(dir, { createIfMissing: false });
  try {
    await db.open();
    for await (const _entry of db.iterator()) {
      // Reading is the check: LevelDB verifies each block it reads.
    }
  } catch (err) {
    throw openFailure(dir, err);
  } finally {
    await db.close().catch(() => {});
  }
}

/**
 * Checks the data folder's LevelDB before dynalite gets it, and says whether there was one. dynalite
 * opens its files lazily and throws a damaged file's error outside any request, which would end the
 * process with a stack trace; reading every entry here also finds a damaged table file.
 */
async function checkDatabaseFiles(dir: string): Promise<boolean> {
  if (!existsSync(join(dir, "CURRENT"))) {
    // Without CURRENT, LevelDB would quietly start a new, empty database beside the old files.
    const leftovers = readdirSync(dir).filter((f) => /^(MANIFEST-\d+|\d+\.(log|ldb|sst))$/.test(f));
    if (leftovers.length > 0) throw new DamagedDatabaseError(dir, `its CURRENT file is missing, beside ${leftovers.join(", ")}`);
    return false;
  }
  await readWholeDatabase(dir);
  return true;
}

/**
 * After a clean stop, opens the database once more: LevelDB moves its write-ahead log into a
 * checksummed table file when it opens. A log cut short is taken for a crash mid-write and its tail
 * silently dropped; a table file cut short is an error the next start reports.
 */
async function settleAfterStop(dir: string): Promise<void> {
  await readWholeDatabase(dir);
}

/**
 * dynalite reads each query and scan through a stream that, once done, lets go of its LevelDB
 * iterator with `iterator.return()`, a method abstract-level's iterators do not have. So every
 * iterator stayed open until the database closed, each holding a snapshot, and a snapshot keeps
 * every value older than it from compaction: a key the expire job scrubbed stayed on disk.
 */
function closeIteratorsOnReturn(db: DynaliteLevel): void {
  for (const method of ["keys", "values"] as const) {
    const make = db[method].bind(db);
    db[method] = (options) => {
      const iterator = make(options);
      iterator.return ??= () => iterator.close();
      return iterator;
    };
  }
}

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  /** The data folder held a database before this start (so its tables should be there). */
  existing: boolean;
  /**
   * Rewrites the database files so that only the current value of each item is left on disk: LevelDB
   * keeps an overwritten value (a key the expire job scrubbed) in its log and table files until a
   * compaction drops it. Nothing to do in memory.
   */
  compact(): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalDynamo(opts: { dataDir?: string; port?: number } = {}): Promise<LocalDynamo> {
  let existing = false;
  if (opts.dataDir) {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    existing = await checkDatabaseFiles(opts.dataDir);
  }
  const { server, db } = createDynalite({ path: opts.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  if (opts.dataDir) {
    // Open now, not at the first request: the LevelDB lock is the data folder's lock (the local stack
    // takes it before it writes anything there), and another process may have taken it since the check.
    const dir = opts.dataDir;
    await db.open({ passive: true }).catch((err: unknown) => {
      throw openFailure(dir, err);
    });
  }
  // Loopback only, and the client keeps its sockets alive: a server closing an idle socket just as
  // the client reuses it answers ECONNRESET, which a busy machine (a burst of claims) makes likely.
  const answering = trackRequests(server);
  server.keepAliveTimeout = 0;
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createDynamoClient({
    endpoint,
    region: "local",
    // dynalite accepts any credentials; these keep the SDK from looking for real ones.
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 3,
    // Bursts of a few hundred claims are the point of the local stack's rehearsals and of the tests;
    // the SDK's default of 50 sockets would queue them in the client instead of in dynalite.
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: 512 } },
  });
  return {
    endpoint,
    client,
    existing,
    async compact() {
      // From the first key to past the last (dynalite's keys are text: no byte 0xff).
      if (opts.dataDir) await db.compactRange(new Uint8Array(0), new Uint8Array(8).fill(0xff), { keyEncoding: "buffer" });
    },
    async close() {
      // dynalite closes its LevelDB when its server closes: a request it is still answering then
      // fails inside it, outside any caller ("Database is closed"). So: no new connection, let the
      // requests under way finish, and only then cut the idle sockets and close.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await answering.drained(STOP_DRAIN_MS);
      client.destroy();
      server.closeAllConnections();
      await closed;
      if (opts.dataDir) await settleAfterStop(opts.dataDir).catch(() => {});
    },
  };
}

/** How long a stop waits for the requests dynalite is answering. */
const STOP_DRAIN_MS = 10_000;

/**
 * Refuses browsers (below) and counts the requests being answered, so a stop can wait for them.
 */
function trackRequests(server: Server): { drained(timeoutMs: number): Promise<void> } {
  let answering = 0;
  let wake: (() => void) | undefined;
  refuseBrowsers(server, (res) => {
    answering += 1;
    res.once("close", () => {
      answering -= 1;
      if (answering === 0) wake?.();
    });
  });
  return {
    async drained(timeoutMs) {
      if (answering === 0) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, timeoutMs).unref();
      });
    },
  };
}

/**
 * dynalite answers any origin with `Access-Control-Allow-Origin: *` and checks no signature, so any
 * web page the developer visits could scan loopback ports and read the claims (plaintext keys
 * included). The SDK never sends an Origin header; a browser always does on such a request.
 */
function refuseBrowsers(server: Server, onAnswer: (res: ServerResponse) => void): void {
  const listeners = server.listeners("request") as RequestListener[];
  server.removeAllListeners("request");
  server.on("request", (req, res) => {
    if (req.headers.origin !== undefined || req.method === "OPTIONS") {
      res.writeHead(403, { "content-type": "text/plain" }).end("The local DynamoDB does not answer browsers.\n");
      return;
    }
    onAnswer(res);
    for (const listener of listeners) listener(req, res);
  });
}
