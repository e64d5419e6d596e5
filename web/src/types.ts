/**
 * Shapes the browser reads: the build-time catalog (catalog.json), the runtime settings
 * (/config.json) and the HTTP API's answers (see the API contract). Types only, so both the
 * build script and the bundles can import this file without pulling code into either.
 */

import type { PublicWorkshopFacts } from "../../workshops/derive.js";
import type { PoolTotals } from "../../workshops/pool.js";

export interface CatalogModel {
  id: string;
  label: string;
  note?: string;
  price_in_per_mtok?: number;
  price_out_per_mtok?: number;
}

/** The public part of a workshop file, rendered once at build time. Organizer emails stay out. */
export interface CatalogWorkshop extends PublicWorkshopFacts {
  is_active: boolean;
  /** A claim needs the room code shown on the projector in the room (`claim_code`). */
  room_code: boolean;
  /** The welcome message as HTML: markdown rendered with raw HTML escaped and links checked. */
  welcome_html: string;
  budget_usd: number;
  capacity: number;
  models: CatalogModel[];
}

export interface Catalog {
  generated_at: string;
  workshops: CatalogWorkshop[];
}

export interface SiteConfig {
  apiUrl: string;
  mode: "local-emulator" | "local-openrouter" | "cloud";
  openrouterBaseUrl?: string;
  /** The server's clock when it answered (epoch ms) and its speed: a rehearsal may shift or speed it. */
  clock?: { now: number; speed: number };
  auth: {
    issuer: string;
    clientId: string;
    redirectUri: string;
    scope: string;
    logoutUri?: string;
  };
}

// The API's own answer types, shared rather than restated (type-only: nothing reaches a bundle).
export type { WorkshopStatus } from "../../functions/api/views.js";
export type { ClaimStatus, CreditCheck } from "../../functions/data/store.js";
import type { WorkshopStatus } from "../../functions/api/views.js";
import type { ClaimStatus } from "../../functions/data/store.js";

export type WorkshopState = WorkshopStatus["state"];

export interface Profile {
  user_id: string;
  email: string;
  email_verified: boolean;
  display_name: string;
  confirmed: boolean;
  /** The answer to the workshop's marketing question, when the profile was read for a workshop. */
  consent: { workshop: string; decided: boolean; marketing_opted_in: boolean } | null;
  is_admin: boolean;
  organizer_of: string[];
}

export interface MyKey {
  slug: string;
  status: ClaimStatus;
  key: string | null;
  key_name: string;
  budget_usd: number;
  usage_usd: number;
  limit_remaining: number | null;
  expires_at: string;
  claimed_at: string;
  /** When usage was last read from OpenRouter (by the sync job or a live read). */
  usage_synced_at: string | null;
  revoked_at: string | null;
  expired_at: string | null;
  base_url: string;
  models: CatalogModel[];
}

export interface AdminWorkshop extends WorkshopStatus {
  committed_usd: number;
  cap_usd: number;
  /** The last usage sync's total (its spend sample), and when that sync ran (null before the first). */
  usage_usd: number;
  usage_synced_at: string | null;
}

export interface AdminClaim {
  user_id: string;
  email: string;
  display_name: string;
  status: ClaimStatus;
  usage_usd: number;
  limit_usd: number;
  key_name: string;
  claimed_at: string;
  usage_synced_at: string | null;
  revoked_at: string | null;
  /** Revoked claims: the unspent budget given back to the pool (null until it is). */
  returned_usd: number | null;
  last_error: string | null;
  /** UNBOUND only: why, in plain words. */
  unbound_reason: string | null;
  /** Revoked claims an organizer allowed to claim again (not claimed yet). */
  reallowed_at: string | null;
  /** Keys revoked before the current one. */
  earlier_keys: { limit_usd: number; usage_usd: number; returned_usd: number; revoked_at: string | null }[];
  /** Claims an organizer made for someone in the room: who. */
  handed_out_by: string | null;
}

export interface AdminClaims {
  claims: AdminClaim[];
  /** The pool's figures (what the revoke and top-up dialogs reckon with), spend, and revoked keys apart. */
  totals: PoolTotals & {
    usage_usd: number;
    revoked: { keys: number; usage_usd: number };
  };
  spend: { at: string; usage_usd: number }[];
}

/** What the router hands every page: the deployment's settings and the workshop catalogue. */
export interface SiteProps {
  config: SiteConfig;
  catalog: Catalog;
}
