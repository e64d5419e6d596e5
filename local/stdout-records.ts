import { vi } from "vitest";

/**
 * For tests: the JSON records a piece of code prints on stdout (Powertools Logger and Metrics write
 * there, as in Lambda), split into log records and EMF metric records (those with `_aws`).
 */
export interface StdoutRecords {
  logs: Record<string, unknown>[];
  emf: EmfRecord[];
  /** Every line, as printed. */
  lines: string[];
  stop(): void;
}

export interface EmfRecord extends Record<string, unknown> {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
}

/** Both streams: Powertools prints ERROR records on stderr, the rest on stdout. */
export function captureStdout(opts: { passThrough?: boolean } = {}): StdoutRecords {
  const out: StdoutRecords = { logs: [], emf: [], lines: [], stop: () => spies.forEach((s) => s.mockRestore()) };
  const spies = [process.stdout, process.stderr].map((stream) => capture(stream, out, opts.passThrough ?? false));
  return out;
}

function capture(stream: NodeJS.WriteStream, out: Omit<StdoutRecords, "stop">, passThrough: boolean) {
  const write = stream.write.bind(stream);
  return vi.spyOn(stream, "write").mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
    for (const line of text.split("\n").filter(Boolean)) {
      out.lines.push(line);
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed && typeof parsed === "object" && "_aws" in parsed) out.emf.push(parsed as EmfRecord);
        else out.logs.push(parsed);
      } catch {
        // not a JSON record (a test's own output)
      }
    }
    return passThrough ? (write as (...a: unknown[]) => boolean)(chunk, ...rest) : true;
  }) as typeof stream.write);
}

/** The EMF records that carry `metric`. */
export const emfFor = (records: EmfRecord[], metric: string) => records.filter((r) => r._aws.CloudWatchMetrics.some((m) => m.Metrics.some((x) => x.Name === metric)));
