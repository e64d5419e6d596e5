import type { IncomingMessage, ServerResponse } from "node:http";
import { networkInterfaces } from "node:os";

/**
 * The names a local server answers on. A page anywhere on the web can make the browser resolve its
 * own domain to 127.0.0.1 (DNS rebinding) and then read this server's answers as same-origin; what
 * gives it away is the Host header, which still names the attacker's domain. So every request must
 * name one of this server's own origins: the loopback names, the address it was told to listen on,
 * this machine's addresses when it listens on all of them (a room-network rehearsal), and the
 * `--public-url`.
 */

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", ""]);
export const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"] as const;

export class HostOptionError extends Error {
  override name = "HostOptionError";
}

/** `::1` → `[::1]`; names and IPv4 addresses unchanged. */
export function urlHostname(address: string): string {
  return address.includes(":") && !address.startsWith("[") ? `[${address}]` : address;
}

export function isWildcardHost(host: string): boolean {
  return WILDCARD_HOSTS.has(host);
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** This machine's addresses another device could reach it on (IPv4 and routable IPv6; no link-local). */
export function machineAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal && !(a.family === "IPv6" && a.address.toLowerCase().startsWith("fe80:")))
    .map((a) => a.address);
}

export interface ServerOrigins {
  /** The URL to print and to hand out: the public URL, else the listen address (on all addresses: the first network one). */
  canonical: string;
  /** Every origin the server answers as, canonical first. */
  all: string[];
  /** Origins another device on the network would use (empty when only loopback is served). */
  network: string[];
}

/** The origins of a server listening on `host:port`, optionally also reached as `publicUrl`. */
export function serverOrigins(opts: { host: string; port: number; publicUrl?: string; addresses?: () => string[] }): ServerOrigins {
  const { host, port } = opts;
  const origin = (name: string) => `http://${urlHostname(name)}:${port}`;
  let publicOrigin: string | undefined;
  if (opts.publicUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(opts.publicUrl);
    } catch {
      throw new HostOptionError(`--public-url must be a URL like http://192.168.1.20:8787 (got ${opts.publicUrl})`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new HostOptionError(`--public-url must start with http:// or https:// (got ${opts.publicUrl})`);
    publicOrigin = url.origin;
  }
  const wildcard = isWildcardHost(host);
  const network = wildcard ? (opts.addresses ?? machineAddresses)().map(origin) : isLoopbackHost(host) ? [] : [origin(host)];
  if (publicOrigin && !isLoopbackHost(new URL(publicOrigin).hostname)) network.unshift(publicOrigin);
  // On all addresses, the first network address is the one to print and to put in the key page's
  // base URL: it works from this machine and from the room alike.
  const canonical = publicOrigin ?? (wildcard ? (network[0] ?? origin("127.0.0.1")) : origin(host));
  const all = [...new Set([canonical, ...LOOPBACK_NAMES.map(origin), ...network])];
  return { canonical, all, network: [...new Set(network)] };
}

/** The Host names a server with these origins answers to, and the 421 it gives every other name. */
export class HostCheck {
  private readonly hosts: Set<string>;
  constructor(origins: readonly string[]) {
    this.hosts = new Set(origins.map((o) => new URL(o).host));
  }

  allows(host: string | undefined): boolean {
    return host !== undefined && this.hosts.has(host.toLowerCase());
  }

  /** The refused name is shown JSON-quoted: it came from the request. */
  refusal(host: string | undefined): { status: 421; contentType: string; body: string } {
    return {
      status: 421,
      contentType: "text/plain; charset=utf-8",
      body:
        `This local server answers only as ${[...this.hosts].join(", ")}; the request named Host ${JSON.stringify(host ?? "")}. ` +
        `To reach it under another name, start it with --public-url http://<that name>:<port>.\n`,
    };
  }

  /** For a node:http server: answers the 421 and returns false for a foreign Host. */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.allows(req.headers.host)) return true;
    const { status, contentType, body } = this.refusal(req.headers.host);
    res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" }).end(body);
    return false;
  }
}

/**
 * The methods some part of the local stack or the emulator answers. Any other (TRACE, PROPFIND, …)
 * gets 405 with `Allow` before the request is turned into a fetch Request, which refuses TRACE with
 * an error (a 500).
 */
const ANSWERED_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** False, with the 405 answered, for a method nothing here answers. */
export function answersMethod(req: IncomingMessage, res: ServerResponse, setHeaders: (res: ServerResponse) => void = () => {}): boolean {
  if (ANSWERED_METHODS.has(req.method ?? "")) return true;
  setHeaders(res);
  res.writeHead(405, { allow: [...ANSWERED_METHODS].join(", "), "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify({ error: { code: "method_not_allowed", message: `${req.method} is not answered here.` } }));
  return false;
}
