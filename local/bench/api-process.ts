import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";

/**
 * The API Lambda's own module (functions/api/handler.ts: its environment, clients and wiring) in a
 * process of its own, served over loopback HTTP, so the bench measures the API's CPU apart from the
 * local DynamoDB and the OpenRouter emulator, which run in their own processes as they do in the
 * cloud. split.ts bundles this file with the Lambdas' bundler (infra/bundle.ts) and runs it with
 * plain `node`: the code measured is the code deployed, minified, without a TypeScript loader.
 * The environment comes from the parent (AWS_ENDPOINT_URL_DYNAMODB points the DynamoDB client at
 * the local one). `GET /_bench/cpu` answers this process's CPU time so far (ms).
 *
 * Prints `api <origin>` when it listens, and nothing else.
 */

const { app } = await import("../../functions/api/handler.js");
const serveApp = getRequestListener(app.fetch, { overrideGlobalObjects: false });

const server = createServer((req, res) => {
  if (req.url === "/_bench/cpu") {
    const used = process.cpuUsage();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ cpu_ms: (used.user + used.system) / 1000 }));
    return;
  }
  void serveApp(req, res);
});
server.keepAliveTimeout = 0;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`api http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
