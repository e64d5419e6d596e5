import { keyExpiresAt } from "./derive.js";
import type { Workshop } from "./schema.js";

/**
 * The models of each workshop checked against OpenRouter's public model list (`GET /models`, no key
 * needed), where the merge is decided: ids OpenRouter does not have, ids it will retire
 * (`expiration_date`) before the workshop's keys expire, and YAML prices that differ from its
 * current ones; each finding says what to change. Pure: `workshops:check --models` fetches the list.
 */

/** The fields of a `GET /models` entry this check reads (prices are USD per token, as strings). */
export interface ListedModel {
  id: string;
  canonical_slug?: string | null;
  pricing?: { prompt?: string; completion?: string } | null;
  expiration_date?: string | null;
}

export interface ModelFinding {
  slug: string;
  model: string;
  kind: "unknown" | "retiring" | "price";
  /** Unknown and retiring models are errors (keys would not work); a stale price is a warning. */
  severity: "error" | "warning";
  message: string;
}

const perMillion = (perToken: string | undefined): number | undefined => {
  const n = Number(perToken);
  return perToken === undefined || !Number.isFinite(n) ? undefined : Math.round(n * 1e6 * 1e6) / 1e6;
};

/** The listed ids sharing the longest prefix with `id`: a hint for a typo or a renamed model. */
function nearest(id: string, listed: readonly ListedModel[]): string[] {
  const common = (a: string, b: string) => {
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return i;
  };
  const scored = listed.map((m) => ({ id: m.id, n: common(id, m.id) })).filter((s) => s.n > id.indexOf("/") + 1);
  const best = Math.max(0, ...scored.map((s) => s.n));
  return scored.filter((s) => s.n === best).map((s) => s.id).slice(0, 3);
}

export function checkModels(workshops: readonly Workshop[], listed: readonly ListedModel[]): ModelFinding[] {
  const byId = new Map<string, ListedModel>();
  for (const m of listed) {
    byId.set(m.id, m);
    if (m.canonical_slug) byId.set(m.canonical_slug, m);
  }
  const findings: ModelFinding[] = [];
  for (const w of workshops) {
    const expires = keyExpiresAt(w);
    w.openrouter.models.forEach((m, i) => {
      const at = `openrouter.models[${i}]`;
      const found = byId.get(m.id);
      if (!found) {
        const hint = nearest(m.id, listed);
        findings.push({
          slug: w.slug,
          model: m.id,
          kind: "unknown",
          severity: "error",
          message: `${at}.id: OpenRouter has no model "${m.id}"; use an id from https://openrouter.ai/models${hint.length ? ` (closest: ${hint.join(", ")})` : ""}`,
        });
        return;
      }
      if (found.expiration_date && Date.parse(found.expiration_date) < Date.parse(expires)) {
        findings.push({
          slug: w.slug,
          model: m.id,
          kind: "retiring",
          severity: "error",
          message: `${at}.id: OpenRouter retires "${m.id}" on ${found.expiration_date}, before the workshop's keys expire (${expires}); pick another model`,
        });
      }
      const priceIn = perMillion(found.pricing?.prompt ?? undefined);
      const priceOut = perMillion(found.pricing?.completion ?? undefined);
      const stale = (yaml: number | undefined, listedPrice: number | undefined) => yaml !== undefined && listedPrice !== undefined && Math.abs(yaml - listedPrice) > 1e-9;
      if (stale(m.price_in_per_mtok, priceIn) || stale(m.price_out_per_mtok, priceOut)) {
        findings.push({
          slug: w.slug,
          model: m.id,
          kind: "price",
          severity: "warning",
          message: `${at}: the YAML says $${m.price_in_per_mtok} in / $${m.price_out_per_mtok} out per million tokens, OpenRouter lists $${priceIn} / $${priceOut}; set price_in_per_mtok: ${priceIn} and price_out_per_mtok: ${priceOut}`,
        });
      }
    });
  }
  return findings;
}
