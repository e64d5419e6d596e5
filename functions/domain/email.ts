import { domainToASCII } from "node:url";

/**
 * One claim per person per workshop: two sign-ins whose addresses deliver to the same mailbox must
 * collide. The result is a lock key, never an address to write to.
 *
 * Every address is first brought to one spelling: Unicode NFKC (fullwidth `ｇｍａｉｌ` is `gmail`),
 * the domain through UTS-46 (IDNA: case, fullwidth and ideographic dots, Punycode), quotes dropped
 * from the local part (`"foo.bar"` is the mailbox `foo.bar`; no consumer provider hands out names
 * that need quoting), lowercase. Then only the rules a provider documents are applied
 * (`MAILBOX_RULES`); any other domain keeps its local part as written (dots and plus signs can be
 * significant there).
 */

interface MailboxRule {
  provider: string;
  domains: readonly string[];
  /** Domains matched by pattern where the provider has too many to list (country domains). */
  pattern?: RegExp;
  /** The domain every one of `domains` delivers to, when they are one mailbox namespace. */
  canonicalDomain?: string;
  /** The provider ignores dots in the local part. */
  ignoresDots?: boolean;
  /** Everything from this separator on is a tag the provider delivers to the base name. */
  tagSeparator?: "+" | "-";
}

const country = (name: string, suffixes: readonly string[]) => suffixes.map((s) => `${name}.${s}`);

/**
 * Microsoft's consumer domains (Outlook.com, formerly Hotmail, Windows Live, MSN): every one takes
 * `+tag` subaddressing; dots are significant, and the domains are not aliases of each other (an
 * account chooses its aliases). Sources: Mozilla's ISPDB entry for Outlook.com (Thunderbird's
 * autoconfig), validator.js `normalizeEmail`, Microsoft's 2013 announcement of the international
 * outlook.* domains.
 */
const MICROSOFT_DOMAINS = [
  "outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com", "windowslive.com", "livemail.tw",
  ...country("outlook", [
    "at", "be", "cl", "cz", "de", "dk", "es", "fr", "hu", "id", "ie", "in", "it", "jp", "kr", "lv", "my", "ph", "pt", "sa", "sg", "sk",
    "co.id", "co.il", "co.nz", "co.th", "co.uk", "com.ar", "com.au", "com.br", "com.gr", "com.pe", "com.tr", "com.vn",
  ]),
  ...country("hotmail", [
    "at", "be", "ca", "ch", "cl", "cz", "de", "dk", "es", "fi", "fr", "gr", "hu", "id", "ie", "in", "it", "jp", "kr", "lt", "lv", "my", "nl", "no", "ph", "pt", "rs", "sa", "se", "sg", "sk",
    "co.id", "co.il", "co.in", "co.jp", "co.kr", "co.nz", "co.th", "co.uk", "co.za",
    "com.ar", "com.au", "com.br", "com.gr", "com.hk", "com.mx", "com.pe", "com.tr", "com.tw", "com.vn",
  ]),
  ...country("live", [
    "at", "be", "ca", "cl", "cn", "de", "dk", "es", "eu", "fi", "fr", "hk", "ie", "in", "it", "jp", "nl", "no", "ru", "se",
    "co.jp", "co.kr", "co.uk", "co.za", "com.ar", "com.au", "com.mx", "com.my", "com.ph", "com.pt", "com.sg",
  ]),
];

/** The provider rules, in one place. A domain belongs to at most one row (`mailbox-rules.test`). */
export const MAILBOX_RULES: readonly MailboxRule[] = [
  // Google's consumer mail: dots never matter, `+tag` is delivered to the name, and googlemail.com
  // (the name Gmail had in Germany and the UK) is the same mailbox as gmail.com.
  { provider: "Google", domains: ["gmail.com", "googlemail.com"], canonicalDomain: "gmail.com", ignoresDots: true, tagSeparator: "+" },
  { provider: "Microsoft", domains: MICROSOFT_DOMAINS, tagSeparator: "+" },
  // An Apple ID with a me.com or mac.com address has the icloud.com address of the same name.
  { provider: "Apple", domains: ["icloud.com", "me.com", "mac.com"], canonicalDomain: "icloud.com", tagSeparator: "+" },
  // Proton usernames are one namespace across its domains.
  { provider: "Proton", domains: ["proton.me", "protonmail.com", "protonmail.ch", "pm.me"], canonicalDomain: "proton.me", tagSeparator: "+" },
  { provider: "Fastmail", domains: ["fastmail.com", "fastmail.fm"], tagSeparator: "+" },
  { provider: "Yandex", domains: ["yandex.com", "yandex.ru", "ya.ru"], tagSeparator: "+" },
  { provider: "Zoho", domains: ["zoho.com", "zohomail.com"], tagSeparator: "+" },
  { provider: "HEY", domains: ["hey.com"], tagSeparator: "+" },
  // Yahoo's disposable addresses are `basename-keyword@`; Yahoo IDs themselves cannot contain `-`.
  { provider: "Yahoo", domains: ["ymail.com", "rocketmail.com"], pattern: /^yahoo\.(com|co\.[a-z]{2}|com\.[a-z]{2}|[a-z]{2})$/, tagSeparator: "-" },
];

const RULE_BY_DOMAIN = new Map(MAILBOX_RULES.flatMap((rule) => rule.domains.map((d) => [d, rule] as const)));

export function mailboxRuleFor(domain: string): MailboxRule | undefined {
  return RULE_BY_DOMAIN.get(domain) ?? MAILBOX_RULES.find((rule) => rule.pattern?.test(domain));
}

export function normalizeEmail(email: string): string {
  const whole = email.normalize("NFKC").trim();
  const at = whole.lastIndexOf("@");
  if (at <= 0 || at === whole.length - 1) return whole.toLowerCase();
  const local = unquote(whole.slice(0, at)).toLowerCase();
  const domain = asciiDomain(whole.slice(at + 1));
  if (domain === "" || local === "") return whole.toLowerCase();

  const rule = mailboxRuleFor(domain);
  if (!rule) return `${local}@${domain}`;
  let base = rule.tagSeparator ? cutAt(local, rule.tagSeparator) : local;
  // Without its dots a name can begin with a space (". a"), which a second pass would trim away.
  if (rule.ignoresDots) base = base.replaceAll(".", "").trimStart();
  // An address that is nothing but a tag (or dots) is kept whole rather than collapsed to an empty name.
  if (base === "") base = local;
  return `${base}@${rule.canonicalDomain ?? domain}`;
}

/**
 * The domain in its one ASCII spelling. `gmail.com.` is the fully qualified form of `gmail.com`:
 * mail to either lands in one inbox. A domain UTS-46 refuses keeps its lowercased form, so it still
 * yields a stable key.
 */
function asciiDomain(raw: string): string {
  const trimmed = raw.toLowerCase().replace(/[.\u3002\uFF0E\uFF61]+$/, "");
  return (domainToASCII(trimmed) || trimmed).replace(/\.+$/, "");
}

/**
 * `"foo.bar"` and `foo.bar` are one mailbox (RFC 5321 4.1.2), and so is the obsolete `"foo".bar`.
 * Quote marks and the backslashes that escape inside them are syntax, so both are dropped: no
 * consumer provider hands out a name containing them, and dropping every one keeps this idempotent.
 */
function unquote(local: string): string {
  return local.replace(/["\\]/g, "");
}

function cutAt(local: string, separator: string): string {
  const i = local.indexOf(separator);
  return i === -1 ? local : local.slice(0, i);
}
