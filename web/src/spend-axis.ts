/**
 * The spend chart's dollar axis. uPlot picks the step between ticks from these, all whole cents or
 * whole dollars, and the labels show as many decimals as the step needs: two ticks never read the
 * same (with sub-cent steps, or cents printed without decimals, "$0.00 $0.00 $0.01" happened).
 */
export const USD_AXIS_STEPS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000];

export function usdAxisLabels(ticks: number[], step: number): string[] {
  return ticks.map((t) => `$${t.toFixed(step >= 1 ? 0 : 2)}`);
}
