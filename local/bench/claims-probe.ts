import { claimBurst, round, sequentialClaims } from "./claims.js";
import { startBenchRig } from "./rig.js";
import { startSplitRig } from "./split.js";
import type { GovernanceMode } from "../../workshops/derive.js";

/**
 * One round of the claim figures in the tree this file sits in, printed as one JSON line: what
 * `npm run bench -- --against <commit>` runs alternately in the working tree and in the other
 * commit's tree (against.ts copies this file and claims.ts there), so both sides are measured by
 * the same harness. Figure names say which harness measured them.
 *
 * - split: the API bundle, the local DynamoDB and the emulator each in its own process; a warm-up
 *   burst, then one measured 300-claim burst on 250 places, then claims one after another at 100 ms
 *   per upstream call.
 * - one_process: every part in this process, where the DynamoDB and OpenRouter clients count
 *   their calls over claims one after another.
 *
 * BENCH_GOVERNANCE (set by against.ts for the working tree only) picks the claims' governance; this
 * file runs in older trees too, whose rigs take no options, so without it the rigs get none.
 */

const SEQUENTIAL_CLAIMS = 20;
const COUNTED_CLAIMS = 10;

// Read here, not imported: against.ts copies this file into trees that may not have the constant.
// (A type-only import is erased, so it costs an older tree nothing.)
const governance = process.env.BENCH_GOVERNANCE as GovernanceMode | undefined;
const rigOptions: [] | [{ governance: GovernanceMode }] = governance ? [{ governance }] : [];
const figures: Record<string, number> = {};
const split = await startSplitRig(...rigOptions);
try {
  await claimBurst(split, "probe-warm-up", 0);
  const burst = await claimBurst(split, "probe", 0);
  figures.split_burst_wall_ms = burst.wallMs;
  figures.split_burst_api_cpu_ms_per_answer = burst.apiCpuMsPerAnswer;
  figures.split_burst_oversold_or_duplicate = burst.oversold + burst.duplicateKeys;
  figures.split_burst_failed = burst.failed;
  const seq = await sequentialClaims(split, "probe-100ms", 100, SEQUENTIAL_CLAIMS);
  figures.split_sequential_100ms_median_ms = seq.medianMs;
  figures.split_sequential_api_cpu_ms_per_claim = seq.apiCpuMsPerClaim;
} finally {
  await split.close();
}

const one = await startBenchRig(...rigOptions);
try {
  await sequentialClaims(one, "probe-count", 0, COUNTED_CLAIMS, () => one.resetCounters());
  figures.one_process_dynamodb_calls_per_claim = round((one.counters.reads + one.totalWrites()) / COUNTED_CLAIMS, 2);
  figures.one_process_openrouter_calls_per_claim = round(one.totalUpstream() / COUNTED_CLAIMS, 2);
} finally {
  await one.close();
}
process.stdout.write(`${JSON.stringify(figures)}\n`);
