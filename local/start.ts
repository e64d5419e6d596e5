import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_GOVERNANCE, GOVERNANCE_MODES, governanceLine, isGovernanceMode } from "../workshops/derive.js";
import { WorkshopConfigError } from "../workshops/load.js";
import { ClockOptionError } from "./clock.js";
import { HostOptionError } from "./hosts.js";
import { DEFAULT_PORT, LocalStackError, startLocalStack, type LocalStackOptions } from "./stack.js";
import { parseThrottle } from "./throttle.js";
import { DEFAULT_API_THROTTLE } from "../infra/api-throttle.js";

/**
 * `npm start`: the whole product on this machine, one process, one port. See `--help`.
 */

const HELP = `Usage: npm start -- [options]

Runs Workshop Key Minter locally: the web site, the API, a local sign-in, an in-process DynamoDB,
the OpenRouter emulator (or real OpenRouter) and the scheduled jobs, on one port.

Options:
  --port <n>            port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host <addr>         address to listen on (default 127.0.0.1); 0.0.0.0 lets phones and laptops
                        on the room network in (a rehearsal: anyone there can sign in as anyone)
  --public-url <url>    the URL the room opens, e.g. http://192.168.1.20:8787, when this machine
                        has several addresses or sits behind a proxy (default: its first address)
  --data <dir>          data folder: database, emulator, sign-in keys (default .data)
  --no-demo             do not add the local demo workshop
  --demo                add it with --openrouter real too (off there by default: its keys would cost money)
  --at <ISO time>       run the clock from this moment, e.g. 2026-04-14T11:30:00+02:00
  --speed <factor>      run the clock faster, e.g. 60 (an hour per minute)
  --admin <email>       give this email organizer rights everywhere (repeatable; also LOCAL_ADMINS=a@x,b@y)
  --openrouter <mode>   emulator (default) or real (needs OPENROUTER_MANAGEMENT_KEY; mints real keys)
  --throttle <r>,<b>    throttle /api/* as API Gateway's stage does: <r> requests a second, bursts
                        of <b>, 429 {"message":"Too Many Requests"} beyond (default: no throttle;
                        the cloud's default is --throttle ${DEFAULT_API_THROTTLE.ratePerSecond},${DEFAULT_API_THROTTLE.burst})
  --governance <mode>   assignment (default: each key assigned to its workshop's guardrail, 2 calls per
                        claim) or workspace (a workspace per workshop, 1 call per claim; the emulator
                        runs as an organization's account; real OpenRouter needs an organization's key)
  -h, --help            show this help
`;

export function parseCli(argv: string[]): LocalStackOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "public-url": { type: "string" },
      data: { type: "string" },
      "no-demo": { type: "boolean", default: false },
      demo: { type: "boolean" },
      at: { type: "string" },
      speed: { type: "string" },
      admin: { type: "string", multiple: true },
      openrouter: { type: "string" },
      throttle: { type: "string" },
      governance: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;

  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new LocalStackError(`--port must be a port number (got ${values.port})`);
  const speed = values.speed === undefined ? undefined : Number(values.speed);
  const openrouter = values.openrouter ?? "emulator";
  if (openrouter !== "emulator" && openrouter !== "real") {
    throw new LocalStackError(`--openrouter must be "emulator" or "real" (got ${openrouter})`);
  }
  const governance = values.governance ?? DEFAULT_GOVERNANCE;
  if (!isGovernanceMode(governance)) throw new LocalStackError(`--governance must be one of ${GOVERNANCE_MODES.join(", ")} (got ${governance})`);
  const fromEnv = (process.env.LOCAL_ADMINS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return {
    port,
    host: values.host,
    publicUrl: values["public-url"],
    dataDir: values.data,
    // Against real OpenRouter the demo would create a real guardrail and real keys on start-up and
    // claim, so there it is opt-in.
    demo: values["no-demo"] ? false : (values.demo ?? openrouter !== "real"),
    at: values.at,
    speed,
    admins: [...fromEnv, ...(values.admin ?? [])],
    openrouter,
    throttle: values.throttle === undefined ? undefined : parseThrottle(values.throttle),
    governance,
  };
}

async function main(): Promise<void> {
  let opts: LocalStackOptions | undefined;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (!opts) {
    console.log(HELP);
    return;
  }

  // Everything this process creates is owner-only: the data folder holds keys, the room-code secret
  // and the sign-in key, and LevelDB makes its files (0644 by itself) long after start.
  process.umask(0o077);
  let stack: Awaited<ReturnType<typeof startLocalStack>>;
  try {
    stack = await startLocalStack(opts);
  } catch (err) {
    if (err instanceof WorkshopConfigError || err instanceof LocalStackError || err instanceof ClockOptionError || err instanceof HostOptionError) {
      console.error(`\nThe local stack did not start.\n${err.message}`);
    } else {
      console.error("\nThe local stack did not start:", err);
    }
    process.exitCode = 1;
    return;
  }

  const modeLine =
    stack.mode === "local-openrouter"
      ? "REAL OpenRouter (keys cost real money; budgets and expiry apply)"
      : `OpenRouter emulator at ${stack.openrouterBaseUrl}`;
  const clockLine = stack.clock.shifted
    ? `starts at ${new Date(stack.clock.now()).toISOString()}${stack.clock.speed !== 1 ? `, running ×${stack.clock.speed}` : ""}`
    : "real time";
  console.log(
    [
      "",
      // performance.now() counts from the process's start: what the person waited, imports included.
      `Workshop Key Minter is running at ${stack.url}  (ready in ${(performance.now() / 1000).toFixed(1)} s)`,
      `  mode:      ${modeLine}`,
      `  keys:      ${governanceLine(stack.governance)}`,
      `  clock:     ${clockLine}`,
      `  throttle:  ${stack.throttle ? `${stack.throttle.ratePerSecond} requests/s, bursts of ${stack.throttle.burst} on /api (429 beyond, as API Gateway)` : "none on /api (--throttle <rate>,<burst> to rehearse API Gateway's)"}`,
      `  data:      ${stack.dataDir}`,
      `  admins:    ${stack.admins.length ? stack.admins.join(", ") : "none (add --admin you@example.com to see the organizer pages)"}`,
      `  workshops: ${stack.workshops.length}`,
      ...stack.workshops.map((w) => `    - ${w.slug}${w.slug === stack.demoSlug ? " (local demo)" : ""}: ${stack.workshopState(w)}`),
      ...(stack.networkUrls.length === 0
        ? []
        : [
            "",
            `On the room network: ${stack.networkUrls.join("  ")}`,
            "  (phones and laptops there open it, sign in and claim; the projector's QR code points to the address it was opened on)",
            `WARNING: listening on ${opts.host ?? stack.url}: anyone who can reach it can sign in as any email, admins included.`,
          ]),
      "",
      "Open the URL, sign in with any email, claim a key. Ctrl-C stops; a restart keeps every claim.",
      "",
    ].join("\n"),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      console.log("Stopping anyway.");
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    stack.close().then(
      () => {
        console.log("Stopped. Everything is kept in the data folder.");
        process.exit(0);
      },
      (err: unknown) => {
        console.error("Stopping failed:", err);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

// Run only as the `npm start` entry point, not when a test imports parseCli.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) void main();
