import MarkdownIt from "markdown-it";
import { effectiveCapacity, publicWorkshopFacts, type Workshop } from "../workshops/index.js";
import type { Catalog, CatalogWorkshop } from "./src/types.js";

/**
 * The public workshop catalog, rendered from the YAML at build time. The markdown library runs
 * here, in Node, so it never reaches the attendee's phone; the page only inserts finished HTML.
 */

// Only these link targets survive: a welcome message is reviewed in a pull request, but a
// `javascript:` link slipping through review would run on every attendee's page.
const SAFE_LINK = /^(https?:|mailto:|\/(?!\/)|#)/i;

const markdown = new MarkdownIt({
  html: false, // raw HTML in the message is escaped, not rendered
  linkify: true,
  typographer: true,
  breaks: false,
});
markdown.validateLink = (url: string) => SAFE_LINK.test(url.trim());

// External links open in a new tab so the attendee does not lose the claim page, and carry no
// opener or referrer.
const defaultLinkOpen =
  markdown.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
markdown.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const href = tokens[idx].attrGet("href") ?? "";
  if (/^https?:/i.test(String(href))) {
    tokens[idx].attrSet("target", "_blank");
    tokens[idx].attrSet("rel", "noopener noreferrer");
  }
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/** Renders a welcome message to HTML that is safe to insert: raw HTML escaped, unsafe links dropped. */
export function renderWelcomeHtml(welcomeMarkdown: string): string {
  return markdown.render(welcomeMarkdown);
}

export function catalogWorkshop(w: Workshop): CatalogWorkshop {
  return {
    ...publicWorkshopFacts(w),
    is_active: w.is_active,
    // Whether a claim needs the room code (never the code itself: that is the server's secret).
    room_code: w.claim_code !== undefined,
    welcome_html: renderWelcomeHtml(w.welcome_message),
    budget_usd: w.openrouter.budget_usd,
    capacity: effectiveCapacity(w),
    models: w.openrouter.models.map((m) => ({
      id: m.id,
      label: m.label,
      ...(m.note !== undefined ? { note: m.note } : {}),
      ...(m.price_in_per_mtok !== undefined ? { price_in_per_mtok: m.price_in_per_mtok } : {}),
      ...(m.price_out_per_mtok !== undefined ? { price_out_per_mtok: m.price_out_per_mtok } : {}),
    })),
  };
}

/** Every workshop, soonest first; the page groups them into open, upcoming and past itself. */
export function buildCatalog(workshops: Workshop[], generatedAt = new Date()): Catalog {
  return {
    generated_at: generatedAt.toISOString(),
    workshops: [...workshops]
      .sort((a, b) => Date.parse(a.claims_open_at) - Date.parse(b.claims_open_at) || a.slug.localeCompare(b.slug))
      .map(catalogWorkshop),
  };
}
