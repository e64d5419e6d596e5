/**
 * The HTTP API stage's default throttle (`apiRatePerSecond`, `apiBurst` in the stack config), sized
 * for a room of 1,000 claiming within 10 s; the arithmetic is in docs/deploy.md ("API throttle and
 * room size"). No Pulumi import here: the local stack's `--throttle` help and the room bench read it.
 */
export const DEFAULT_API_THROTTLE = { ratePerSecond: 50, burst: 100 } as const;
