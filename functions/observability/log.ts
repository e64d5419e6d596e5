import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { redactKeys } from "../openrouter/errors.js";

/**
 * Structured logs (Powertools Logger): one JSON record per event on stdout with `level`, `service`,
 * `timestamp`, `message` (the event's name), and, for the request or job run it belongs to,
 * `request_id` and `correlation_id` (the claim id on a claim, the run on a job). In the Lambda,
 * `addContext` adds `cold_start` and the function's request id; the local stack sets `cold_start`
 * itself. Every string is passed through `redactKeys` on its way out: a key never reaches a log, even
 * inside an upstream error message.
 */

/** What the rest of the code logs through: an event name and its fields (never a key). */
export type EventLog = (event: string, fields: Record<string, unknown>) => void;

export interface LogContext {
  request_id: string;
  correlation_id: string;
  cold_start?: boolean;
}

const context = new AsyncLocalStorage<LogContext>();

/** Runs `fn` as one request or job run: every record logged inside carries `ctx`. */
export function withLogContext<T>(ctx: Partial<LogContext>, fn: () => T): T {
  const request_id = ctx.request_id ?? randomUUID();
  return context.run({ ...ctx, request_id, correlation_id: ctx.correlation_id ?? request_id }, fn);
}

/** From here on, the current request's records carry this correlation id (e.g. the claim id once known). */
export function setCorrelationId(id: string): void {
  const ctx = context.getStore();
  if (ctx) ctx.correlation_id = id;
}

const redacting = (_key: string, value: unknown) => (typeof value === "string" ? redactKeys(value) : value);

export function createLogger(service: string, opts: { silent?: boolean } = {}): Logger {
  return new Logger({ serviceName: service, logLevel: opts.silent ? "SILENT" : "INFO", jsonReplacerFn: redacting });
}

/** Events whose name says something failed are errors; `…_invalid` and `…_skipped` warnings; the rest info. */
function levelOf(event: string): "error" | "warn" | "info" {
  if (/(^|_)failed($|_)|(^|_)error($|_)/.test(event)) return "error";
  if (/(^|_)(invalid|skipped|shortfall|unbound)($|_)/.test(event)) return "warn";
  return "info";
}

export function eventLog(logger: Logger): EventLog {
  return (event, fields) => {
    const ctx = context.getStore();
    logger[levelOf(event)](event, { ...ctx, ...fields });
  };
}

/** The default for code given no log (the app outside the Lambda and the stack): JSON records of service "api". */
let fallback: EventLog | undefined;
export const defaultEventLog: EventLog = (event, fields) => (fallback ??= eventLog(createLogger("api")))(event, fields);
