/**
 * One claim per person per workshop: two sign-ins whose addresses deliver to the same mailbox must
 * collide. Only rules a provider documents are applied; any other domain keeps its local part as
 * written (dots and plus signs can be significant there), lowercased.
 */

/** Gmail ignores dots and everything after `+`; googlemail.com is the same mailbox as gmail.com. */
const GMAIL_DOMAINS = new Set(["gmail.com", "googlemail.com"]);

/** Providers that deliver `name+tag@` to `name@` (subaddressing). */
const PLUS_TAG_DOMAINS = new Set([
  // Microsoft consumer mail
  "outlook.com", "hotmail.com", "live.com", "msn.com",
  "outlook.de", "outlook.fr", "outlook.es", "outlook.it", "outlook.co.uk", "outlook.jp",
  "hotmail.co.uk", "hotmail.de", "hotmail.fr", "hotmail.es", "hotmail.it", "live.co.uk", "live.de", "live.fr", "live.nl",
  // Apple
  "icloud.com", "me.com", "mac.com",
  // Fastmail
  "fastmail.com", "fastmail.fm",
  // Proton
  "proton.me", "protonmail.com", "protonmail.ch", "pm.me",
  // Others that document subaddressing
  "yandex.com", "yandex.ru", "ya.ru", "zoho.com", "zohomail.com", "hey.com",
]);

/** Yahoo's disposable addresses are `basename-keyword@`; Yahoo IDs themselves cannot contain `-`. */
const YAHOO_DOMAIN = /^(yahoo\.(com|co\.[a-z]{2}|com\.[a-z]{2}|[a-z]{2})|ymail\.com|rocketmail\.com)$/;

export function normalizeEmail(email: string): string {
  const lowered = email.trim().toLowerCase();
  const at = lowered.lastIndexOf("@");
  if (at <= 0 || at === lowered.length - 1) return lowered;
  const local = lowered.slice(0, at);
  // `gmail.com.` is the fully qualified form of `gmail.com`: mail to either lands in one inbox.
  let domain = lowered.slice(at + 1).replace(/\.+$/, "");
  if (domain === "") return lowered;
  let base = local;

  if (GMAIL_DOMAINS.has(domain)) {
    domain = "gmail.com";
    base = cutAt(local, "+").replaceAll(".", "");
  } else if (PLUS_TAG_DOMAINS.has(domain)) {
    base = cutAt(local, "+");
  } else if (YAHOO_DOMAIN.test(domain)) {
    base = cutAt(local, "-");
  }
  // An address that is nothing but a tag is kept whole rather than collapsed to an empty name.
  if (base === "") base = local;
  return `${base}@${domain}`;
}

function cutAt(local: string, separator: string): string {
  const i = local.indexOf(separator);
  return i === -1 ? local : local.slice(0, i);
}
