import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Workshop } from "../../workshops/schema.js";
import type { Table } from "./table.js";
import { CATALOG_KEY, catalogEntries, type CatalogEntry } from "./tables.js";

/** The deployment's workshop index (one item, written whole by the deploy; layout in tables.ts). */

export function catalogStore(table: Table) {
  const { doc, W } = table;

  return {
    /**
     * The deployment's workshop index: one GetItem, never a scan. Entries that do not have the
     * index's shape are reported through `invalid` (by slug), not hidden.
     */
    async getCatalog(): Promise<{ entries: CatalogEntry[]; invalid: string[] }> {
      const got = await doc.send(new GetCommand({ TableName: W, Key: { ...CATALOG_KEY } }));
      const raw = (got.Item?.workshops ?? {}) as Record<string, unknown>;
      const entries: CatalogEntry[] = [];
      const invalid: string[] = [];
      for (const [slug, value] of Object.entries(raw)) {
        const e = value as Partial<CatalogEntry> | undefined;
        const ok =
          e?.slug === slug &&
          [e.starts_at, e.claims_open_at, e.claims_close_at].every((t) => typeof t === "string" && !Number.isNaN(Date.parse(t))) &&
          typeof e.is_active === "boolean" &&
          Array.isArray(e.organizers) &&
          e.organizers.every((o) => typeof o === "string");
        if (ok) entries.push(e as CatalogEntry);
        else invalid.push(slug);
      }
      entries.sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at) || a.slug.localeCompare(b.slug));
      return { entries, invalid };
    },

    /** Writes the whole index, as the deploy does (the local stack and tests, after their CONFIG items). */
    async putCatalog(workshops: readonly Workshop[], nowMs: number): Promise<void> {
      await doc.send(
        new PutCommand({ TableName: W, Item: { ...CATALOG_KEY, workshops: catalogEntries(workshops), updated_at: new Date(nowMs).toISOString() } }),
      );
    },
  };
}
