import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import type { RequestListener, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";

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

// dynalite is CommonJS without type declarations.
const dynalite = createRequire(import.meta.url)("dynalite") as (opts: DynaliteOptions) => Server;

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  close(): Promise<void>;
}

export async function startLocalDynamo(opts: { dataDir?: string; port?: number } = {}): Promise<LocalDynamo> {
  if (opts.dataDir) mkdirSync(opts.dataDir, { recursive: true });
  const server = dynalite({ path: opts.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  // Loopback only, and the client keeps its sockets alive: a server closing an idle socket just as
  // the client reuses it answers ECONNRESET, which a busy machine (a burst of claims) makes likely.
  refuseBrowsers(server);
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
  const client = new DynamoDBClient({
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
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    },
  };
}

/**
 * dynalite answers any origin with `Access-Control-Allow-Origin: *` and checks no signature, so any
 * web page the developer visits could scan loopback ports and read the claims (plaintext keys
 * included). The SDK never sends an Origin header; a browser always does on such a request.
 */
function refuseBrowsers(server: Server): void {
  const listeners = server.listeners("request") as RequestListener[];
  server.removeAllListeners("request");
  server.on("request", (req, res) => {
    if (req.headers.origin !== undefined || req.method === "OPTIONS") {
      res.writeHead(403, { "content-type": "text/plain" }).end("The local DynamoDB does not answer browsers.\n");
      return;
    }
    for (const listener of listeners) listener(req, res);
  });
}
