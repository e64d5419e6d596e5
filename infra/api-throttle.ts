/**
 * The HTTP API stage's default throttle (`apiRatePerSecond`, `apiBurst` in the stack config), sized
 * for a room of 1,000 pressing "Get my key" within 10 s; the arithmetic is in docs/deploy.md ("API
 * throttle and room size") and infra/settings.test.ts holds the defaults to it. No Pulumi import
 * here: the local stack's `--throttle` help and the room bench read it too.
 */

/**
 * API requests one attendee's page sends through the stage around a claim, counted from web/src
 * (and in Chromium by web/room.test.ts): opening the workshop page signed in, GET /me?workshop=…
 * and GET /workshops/<slug>/key; pressing "Confirm and get my key", PUT /me and POST
 * /workshops/<slug>/claim; landing on the key page, GET /workshops/<slug>/key?usage=live. The
 * status poll is anonymous and CloudFront keeps it 5 s: next to nothing per attendee at the stage.
 */
export const CLAIM_FLOW_REQUESTS = { pageOpen: 2, press: 3 } as const;

/** The room the default is sized for. */
export const SIZED_ROOM = { attendees: 1_000, windowSeconds: 10 } as const;

/** How long a claim keeps an API Lambda busy (two OpenRouter calls; docs/deploy.md says 0.5–2 s). */
export const CLAIM_LAMBDA_SECONDS = 1;

/** The account's default Lambda concurrency, less 100 kept for the jobs and anything else. */
export const CONCURRENCY_FOR_THE_API = 1_000 - 100;

export const DEFAULT_API_THROTTLE = { ratePerSecond: 300, burst: 600 } as const;
