import { parseArgs } from "node:util";
import { startEmulator } from "./index.js";

/**
 * `npm run emulator -- --port 4010 [--data .data/openrouter.json] [--seed 1] [--account organization]`
 * Runs the OpenRouter emulator alone and prints its base URL. `--account organization` lets the
 * account create workspaces (a personal account, the default, cannot).
 */
const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    data: { type: "string" },
    seed: { type: "string" },
    account: { type: "string" },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number, got "${values.port}"`);
  process.exit(2);
}

const seed = values.seed === undefined ? undefined : Number(values.seed);
if (seed !== undefined && !Number.isInteger(seed)) {
  console.error(`--seed must be an integer, got "${values.seed}"`);
  process.exit(2);
}

const accountKind = values.account;
if (accountKind !== undefined && accountKind !== "personal" && accountKind !== "organization") {
  console.error(`--account must be personal or organization, got "${accountKind}"`);
  process.exit(2);
}

let running: Awaited<ReturnType<typeof startEmulator>>;
try {
  running = await startEmulator({ port, host: values.host, dataFile: values.data, seed, accountKind });
} catch (err) {
  const code = (err as { code?: string }).code;
  console.error(
    code === "EADDRINUSE"
      ? `Port ${port} on ${values.host} is already in use: pick another with --port`
      : `The emulator could not start: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
}

console.log(`OpenRouter emulator: ${running.url}`);
if (running.emulator.managementKeyGenerated) {
  // A local emulator's own key, shown once so it can be pasted into OPENROUTER_MANAGEMENT_KEY.
  console.log(`Management key (generated${values.data ? `, kept in ${values.data}` : ""}): ${running.managementKey}`);
} else {
  console.log("Management key: the one in OPENROUTER_MANAGEMENT_KEY");
}
console.log(`Faults and call counts: ${running.origin}/_emulator/faults, ${running.origin}/_emulator/stats`);

const shutdown = () => {
  running.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
