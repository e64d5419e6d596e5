export * from "./errors.js";
export * from "./verify.js";
export * from "./organizer.js";
export { LoopbackAwareFetcher, isAllowedJwksUri } from "./fetcher.js";
