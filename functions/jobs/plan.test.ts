import { describe, expect, it } from "vitest";
import { keyName } from "../../workshops/derive.js";
import { WorkshopSchema } from "../../workshops/schema.js";
import type { ClaimItem, ClaimStatus } from "../data/store.js";
import type { KeyInfo } from "../openrouter/types.js";
import { needsRetire, planExpire, planRetire, planSync, spendSampleAt } from "./plan.js";

/** The housekeeping rules on their own (pure): which keys are orphans, what gets written or bound. */

const w = WorkshopSchema.parse({
  slug: "plan-test",
  name: "Plan",
  event: "E",
  location: "L",
  starts_at: "2026-04-14T09:00:00Z",
  ends_at: "2026-04-14T12:00:00Z",
  claims_open_at: "2026-04-13T16:00:00Z",
  claims_close_at: "2026-04-14T13:00:00Z",
  is_active: true,
  openrouter: {
    budget_usd: 2,
    key_label_prefix: "plan",
    expires_buffer_minutes: 30,
    models: [{ id: "openai/gpt-5-nano", label: "nano" }],
    guardrail: { cap_usd: 100, reset_interval: "monthly", max_keys: 50 },
  },
});
const NOW = Date.parse("2026-04-14T10:02:30Z");

function key(name: string, hash: string, usage = 0, disabled = false): KeyInfo {
  return { hash, name, label: "sk-or-v1-abc...", disabled, limit: 2, limit_remaining: 2 - usage, usage, created_at: "", updated_at: null, expires_at: null };
}

function claim(user: string, status: ClaimStatus, extra: Partial<ClaimItem> = {}): ClaimItem {
  return {
    slug: w.slug,
    user_id: user,
    email: `${user}@example.com`,
    email_normalized: `${user}@example.com`,
    claim_id: user,
    status,
    key_name: keyName(w, user),
    limit_usd: 2,
    expires_at: "2026-04-14T12:30:00Z",
    usage_usd: 0,
    reserved_at: "",
    lease_until: NOW + 60_000,
    attempt: "a",
    claimed_at: "",
    updated_at: "",
    ...extra,
  };
}

describe("planSync", () => {
  it("finds orphans: a key of this workshop that no claim holds or is still minting", () => {
    const keys = [
      key(keyName(w, "ann"), "h-ann"),
      key(keyName(w, "ann"), "h-ann-duplicate"), // a second key under ann's name: ann holds h-ann
      key(keyName(w, "bob"), "h-bob"), // bob is RESERVED within his lease: still minting
      key(keyName(w, "cid"), "h-cid"), // cid was RELEASED (mint "failed" after upstream created it)
      key(keyName(w, "never-stored"), "h-crash"),
      key("plan/other-workshop/x", "h-other"), // another workshop: same label prefix, other slug
      key("someone's personal key", "h-personal"),
    ];
    const claims = [claim("ann", "ACTIVE", { key_hash: "h-ann" }), claim("bob", "RESERVED"), claim("cid", "RELEASED")];
    const plan = planSync(w, keys, claims, NOW);
    expect(plan.orphans.map((k) => k.hash).sort()).toEqual(["h-ann-duplicate", "h-cid", "h-crash"]);
    expect(plan.stuck).toEqual([]);
  });

  it("writes usage only when it changed, binds UNBOUND keys and MINTED ones left past their lease", () => {
    const keys = [key(keyName(w, "ann"), "h-ann", 0.5), key(keyName(w, "bob"), "h-bob", 0.25), key(keyName(w, "cid"), "h-cid"), key(keyName(w, "dan"), "h-dan")];
    const synced = { usage_synced_at: "2026-04-14T10:00:00Z" };
    const claims = [
      claim("ann", "ACTIVE", { key_hash: "h-ann", usage_usd: 0.5, limit_remaining: 1.5, ...synced }),
      claim("bob", "UNBOUND", { key_hash: "h-bob", usage_usd: 0.1, limit_remaining: 1.9, ...synced }),
      claim("cid", "MINTED", { key_hash: "h-cid", lease_until: NOW - 1, usage_usd: 0, limit_remaining: 2, ...synced }),
      claim("dan", "MINTED", { key_hash: "h-dan", usage_usd: 0, limit_remaining: 2, ...synced }), // minting right now
      claim("eve", "RESERVED", { lease_until: NOW - 1 }),
      claim("fay", "ACTIVE", { key_hash: "h-gone" }),
    ];
    const plan = planSync(w, keys, claims, NOW);
    expect(plan.usageWrites).toEqual([{ userId: "bob", keyHash: "h-bob", usageUsd: 0.25, limitRemaining: 1.75 }]);
    expect(plan.toBind).toEqual([
      { userId: "bob", keyHash: "h-bob", from: "UNBOUND" },
      { userId: "cid", keyHash: "h-cid", from: "MINTED" },
    ]);
    expect(plan.stuck.map((c) => c.user_id)).toEqual(["eve"]);
    // fay's key is not among the enabled keys: the run looks it up (disabled by hand, or gone).
    expect(plan.unlisted.map((c) => c.user_id)).toEqual(["fay"]);
    expect(plan.spend).toEqual({ usage_usd: 0.75, keys: 4 });
  });

  it("counts a retired key's stored usage in the spend and looks up only live claims' missing keys", () => {
    // Listings carry enabled keys only: revoked, expired and deleted keys are not in them.
    const keys = [key(keyName(w, "ann"), "h-ann", 0.5)];
    const claims = [
      claim("ann", "ACTIVE", { key_hash: "h-ann", usage_usd: 0.5, limit_remaining: 1.5, usage_synced_at: "x" }),
      claim("rev", "REVOKED", { key_hash: "h-rev", usage_usd: 0.25 }),
      claim("exp", "EXPIRED", { key_hash: "h-exp", usage_usd: 1, key_deleted_at: "2026-04-14T13:00:00Z" }),
      claim("gon", "UNBOUND", { key_hash: "h-gon", usage_usd: 0.125 }),
      claim("rel", "RELEASED", { usage_usd: 0 }),
    ];
    const plan = planSync(w, keys, claims, NOW);
    expect(plan.unlisted.map((c) => c.user_id)).toEqual(["gon"]);
    expect(plan.orphans).toEqual([]);
    expect(plan.usageWrites).toEqual([]);
    expect(plan.spend).toEqual({ usage_usd: 1.875, keys: 1 });
  });
});

describe("planRetire", () => {
  it("deletes disabled keys of retired claims and every orphan; leaves live keys and keys being minted", () => {
    const keys = [
      key(keyName(w, "exp"), "h-exp", 1.5, true),
      key(keyName(w, "rev"), "h-rev", 0.5, true),
      key(keyName(w, "late"), "h-late", 0.2), // expire has not disabled it yet: a later run will
      key(keyName(w, "done"), "h-done", 1, true), // deleted before, but the mark was not written
      key(keyName(w, "orphan"), "h-orphan", 0, true),
      key(keyName(w, "minting"), "h-minting"),
      key("plan/other-workshop/x", "h-other", 0, true),
    ];
    const claims = [
      claim("exp", "EXPIRED", { key_hash: "h-exp" }),
      claim("rev", "REVOKED", { key_hash: "h-rev" }),
      claim("late", "ACTIVE", { key_hash: "h-late" }),
      claim("done", "EXPIRED", { key_hash: "h-done", key_deleted_at: "2026-04-14T13:00:00Z" }),
      claim("gone", "EXPIRED", { key_hash: "h-gone" }),
      claim("minting", "RESERVED"),
    ];
    const plan = planRetire(w, keys, claims);
    expect(plan.toDelete.map((d) => [d.claim.user_id, d.key.hash, d.key.usage])).toEqual([
      ["exp", "h-exp", 1.5],
      ["rev", "h-rev", 0.5],
    ]);
    expect(plan.orphans.map((k) => k.hash)).toEqual(["h-orphan"]);
    expect(plan.alreadyGone.map((c) => c.user_id)).toEqual(["gone"]);
    expect(needsRetire(claims)).toBe(true);
    expect(needsRetire([claim("done", "EXPIRED", { key_hash: "h-done", key_deleted_at: "x" }), claim("late", "ACTIVE", { key_hash: "h-late" })])).toBe(false);
  });

  it("counts what a reissued claim's lost key spent in its usage and in the workshop's spend", () => {
    // Gil's first key spent $0.40 before upstream lost it; his new key (limit $1.60) has spent $0.10.
    const keys = [{ ...key(keyName(w, "gil"), "h-gil-2", 0.1), limit: 1.6, limit_remaining: 1.5 }];
    const claims = [claim("gil", "ACTIVE", { key_hash: "h-gil-2", carried_usage_usd: 0.4, usage_usd: 0.4, usage_synced_at: "2026-04-14T10:00:00Z" })];
    const plan = planSync(w, keys, claims, NOW);
    expect(plan.usageWrites).toEqual([{ userId: "gil", keyHash: "h-gil-2", usageUsd: 0.5, limitRemaining: 1.5 }]);
    expect(plan.spend).toEqual({ usage_usd: 0.5, keys: 1 });
    expect(plan.unlisted).toEqual([]);
  });
});

describe("deployments sharing one OpenRouter account", () => {
  it("never take each other's keys for orphans, nor disable them at expiry", () => {
    const keys = [
      key(keyName(w, "ann", "prod"), "h-prod-ann"),
      key(keyName(w, "ann", "local-1a2b3c4d"), "h-rehearsal-ann"), // a rehearsal on the same account
      key(keyName(w, "never-stored", "prod"), "h-prod-crash"),
      key(keyName(w, "legacy"), "h-unnamespaced"),
    ];
    const claims = [claim("ann", "ACTIVE", { key_hash: "h-prod-ann" })];
    expect(planSync(w, keys, claims, NOW, "prod").orphans.map((k) => k.hash)).toEqual(["h-prod-crash"]);
    const atExpiry = planExpire(w, keys, claims, "prod");
    expect(atExpiry.toDisable.map((k) => k.hash)).toEqual(["h-prod-ann"]);
    expect(atExpiry.orphans.map((k) => k.hash)).toEqual(["h-prod-crash"]);
    // Without a namespace, names with one (an extra path segment) are someone else's too.
    expect(planSync(w, keys, [], NOW).orphans.map((k) => k.hash)).toEqual(["h-unnamespaced"]);
  });
});

describe("planExpire", () => {
  it("disables enabled keys of the workshop, expires live claims and scrubs the rest", () => {
    const keys = [key(keyName(w, "ann"), "h-ann"), key(keyName(w, "bob"), "h-bob", 0, true), key("other/x/y", "h-other")];
    const claims = [
      claim("ann", "ACTIVE", { key_hash: "h-ann", key: "plaintext-a" }),
      claim("bob", "REVOKED", { key_hash: "h-bob" }),
      claim("cid", "RELEASED", { key: "plaintext-c" }),
      claim("dan", "EXPIRED", { key_hash: "h-dan" }),
    ];
    const plan = planExpire(w, keys, claims);
    expect(plan.toDisable.map((k) => k.hash)).toEqual(["h-ann"]);
    expect(plan.toExpire.map((c) => c.user_id)).toEqual(["ann"]);
    expect(plan.toScrub.map((c) => c.user_id)).toEqual(["cid"]);
  });
});

describe("spendSampleAt", () => {
  it("is the start of the sync period, so runs of one period share a sample", () => {
    expect(spendSampleAt(NOW)).toBe("2026-04-14T10:00:00Z");
    expect(spendSampleAt(Date.parse("2026-04-14T10:04:59.999Z"))).toBe("2026-04-14T10:00:00Z");
    expect(spendSampleAt(Date.parse("2026-04-14T10:05:00Z"))).toBe("2026-04-14T10:05:00Z");
  });
});
