import type { Catalog, CatalogWorkshop, SiteConfig } from "./types.js";

/**
 * The two files every page needs before it can say anything: runtime settings from the server
 * (/config.json) and the catalog rendered at build time. The shell preloads both, so these fetches
 * are answered from the preload cache.
 */

export class SiteDataError extends Error {
  override name = "SiteDataError";
  constructor(
    message: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

async function fetchJson<T>(url: string): Promise<T> {
  let res: Response;
  try {
    // `same-origin` credentials match the shell's `crossorigin="anonymous"` preload, so the
    // preloaded response is reused instead of fetched twice.
    res = await fetch(url, { credentials: "same-origin" });
  } catch (cause) {
    throw new SiteDataError("The site could not be reached. Check your connection and reload.", url, { cause });
  }
  if (!res.ok) throw new SiteDataError(`The site answered ${res.status} for ${url}. Reload in a moment.`, url);
  return (await res.json()) as T;
}

let configPromise: Promise<SiteConfig> | undefined;
let catalogPromise: Promise<Catalog> | undefined;

export function loadConfig(): Promise<SiteConfig> {
  configPromise ??= fetchJson<SiteConfig>("/config.json");
  return configPromise;
}

export function loadCatalog(): Promise<Catalog> {
  catalogPromise ??= fetchJson<Catalog>("/catalog.json");
  return catalogPromise;
}

export function findWorkshop(catalog: Catalog, slug: string): CatalogWorkshop | undefined {
  return catalog.workshops.find((w) => w.slug === slug);
}
