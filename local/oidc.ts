import { createHash, generateKeyPairSync, randomBytes, type JsonWebKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { Jwks } from "aws-jwt-verify/jwk";
import Provider, { errors as oidcErrors, type Configuration, type KoaContextWithOIDC } from "oidc-provider";

/**
 * The local OpenID provider: what Cognito's managed login is in the cloud, for one laptop. Anyone
 * can sign in with any email (there is no password: it is a development stack), and the ID token
 * carries the claims the API's verifier reads from a Cognito ID token — `email`, `email_verified`,
 * `name`, `cognito:groups` and `token_use: "id"` — so the same verifier code runs in both places.
 *
 * It is mounted under `/oidc` of the stack's one port. oidc-provider derives its mount path from
 * the issuer's path and, when handed a request whose `url` has the prefix stripped, its
 * `originalUrl` (the connect/express convention) to build absolute URLs.
 */

export const OIDC_MOUNT_PATH = "/oidc";
export const LOCAL_CLIENT_ID = "workshop-key-minter-local";
export const ADMIN_GROUP = "admins";
export const OIDC_SCOPE = "openid email profile";

export class LocalOidcError extends Error {
  override name = "LocalOidcError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface LocalOidcOptions {
  /** The stack's canonical origin, e.g. http://127.0.0.1:8787; its issuer is origin + /oidc. */
  origin: string;
  /**
   * Other origins the same server answers on (http://localhost:8787, a room-network address): each is
   * an issuer of its own (origin + /oidc), so a page signs in on the host it was opened on.
   */
  extraOrigins?: string[];
  /** Holds the signing key, cookie keys and the accounts (email, name) seen so far. */
  dataDir: string;
  /** Emails that get the `admins` group; read at every token, so it reflects the current start's flags. */
  admins: Iterable<string>;
  /** Lets the stack reuse its security headers on every response of the provider. */
  setHeaders?: (res: ServerResponse) => void;
  /** How long an ID token lives (default an hour, as Cognito's); tests shorten it to watch the page refresh it. */
  idTokenTtlSeconds?: number;
}

/** ID tokens live an hour, as Cognito's do; the page trades its refresh token for a new one. */
export const ID_TOKEN_TTL_SECONDS = 60 * 60;
/** A sign-in lasts a workshop day (the Cognito app client is set the same way in infra/auth.ts). */
export const REFRESH_TOKEN_TTL_SECONDS = 24 * 60 * 60;

export interface LocalOidc {
  /** The canonical origin's issuer. */
  issuer: string;
  /** Every issuer, one per origin; each token names the one it was signed in at. */
  issuers: string[];
  /** The issuer for a page opened on `origin` (the canonical one for an origin not served). */
  issuerFor(origin: string): string;
  clientId: string;
  jwksUri: string;
  /** The public signing keys, for a verifier in the same process (no fetch over the network). */
  jwks: Jwks;
  /** Where the SPA sends the browser back to, for each origin the stack answers on. */
  redirectUris: string[];
  /** Serves one request whose path starts with /oidc. */
  handle(req: IncomingMessage, res: ServerResponse): void;
}

interface Account {
  email: string;
  name?: string;
}

/** The subject for an email: stable across restarts and data folders, shaped like a Cognito `sub` (a UUID). */
export function subjectForEmail(email: string): string {
  const h = createHash("sha256").update(`workshop-key-minter-local:${normalizeEmail(email)}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

// Deliberately loose: the dev sign-in only needs something that looks like an address.
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function writeJsonAtomic(file: string, value: unknown, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2), { mode });
  renameSync(tmp, file);
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch (cause) {
    throw new LocalOidcError(`${file} is not valid JSON; delete it to start over (everyone signs in again)`, { cause });
  }
}

/** The RS256 signing key (private), generated on first start and kept, so tokens survive a restart. */
function loadOrCreateSigningKey(dir: string): JsonWebKey {
  const file = join(dir, "signing-key.json");
  const existing = readJson<JsonWebKey>(file);
  if (existing) return existing;
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  const key = { ...jwk, kid: `local-${randomBytes(6).toString("hex")}`, alg: "RS256", use: "sig" };
  writeJsonAtomic(file, key);
  return key;
}

function loadOrCreateCookieKeys(dir: string): string[] {
  const file = join(dir, "cookie-keys.json");
  const existing = readJson<string[]>(file);
  if (existing && existing.length > 0) return existing;
  const keys = [randomBytes(32).toString("base64url")];
  writeJsonAtomic(file, keys);
  return keys;
}

interface StoredArtifact {
  payload: Record<string, unknown> & { uid?: string; grantId?: string; userCode?: string; consumed?: number };
  expiresAt: number;
}

/**
 * Sessions, interactions, codes, grants and refresh tokens of one provider, in memory: a restart
 * signs people out of the provider, and of the site once their ID token expires (within the hour:
 * the signing key is kept, the refresh tokens are not; the page then says the session ended).
 * One store per stack, shared by its providers (one per origin; the cookies that name sessions are
 * per host anyway), so two stacks in one test process do not share sessions.
 */
function memoryAdapterFactory() {
  const artifacts = new Map<string, StoredArtifact>();
  const live = (key: string) => {
    const hit = artifacts.get(key);
    if (hit && hit.expiresAt <= Date.now()) {
      artifacts.delete(key);
      return undefined;
    }
    return hit;
  };
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: StoredArtifact["payload"], expiresIn?: number) {
      artifacts.set(this.key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    }
    async find(id: string) {
      return live(this.key(id))?.payload;
    }
    async findByUid(uid: string) {
      for (const [key, a] of artifacts) {
        if (key.startsWith(`${this.model}:`) && a.payload.uid === uid && live(key)) return a.payload;
      }
      return undefined;
    }
    async findByUserCode(userCode: string) {
      for (const [key, a] of artifacts) {
        if (key.startsWith(`${this.model}:`) && a.payload.userCode === userCode && live(key)) return a.payload;
      }
      return undefined;
    }
    async consume(id: string) {
      const hit = live(this.key(id));
      if (hit) hit.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      artifacts.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, a] of artifacts) if (a.payload.grantId === grantId) artifacts.delete(key);
    }
  };
}

class AccountStore {
  private readonly file: string;
  private readonly accounts: Record<string, Account>;
  constructor(dir: string) {
    this.file = join(dir, "accounts.json");
    this.accounts = readJson<Record<string, Account>>(this.file) ?? {};
  }
  get(sub: string): Account | undefined {
    return this.accounts[sub];
  }
  /** Remembers who signed in; a later sign-in without a name keeps the earlier one. */
  signIn(email: string, name: string | undefined): string {
    const sub = subjectForEmail(email);
    const previous = this.accounts[sub];
    this.accounts[sub] = { email: normalizeEmail(email), name: name || previous?.name };
    writeJsonAtomic(this.file, this.accounts);
    return sub;
  }
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

// Served from /oidc/local.css rather than inlined: the stack's CSP allows no inline styles or scripts.
const STYLESHEET = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f6f7f9;color:#1b1f24;margin:0}
main{max-width:26rem;margin:8vh auto;background:#fff;padding:2rem;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 .5rem}
p.hint{color:#555;font-size:.92rem;line-height:1.4}
label{display:block;margin:1rem 0 .3rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #bbb;border-radius:6px}
button{margin-top:1.4rem;width:100%;padding:.7rem;font-size:1rem;border:0;border-radius:6px;background:#2457d6;color:#fff;cursor:pointer}
button.secondary{background:#e4e7ec;color:#1b1f24}
.error{background:#fdecec;color:#8a1c1c;padding:.6rem;border-radius:6px}
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${OIDC_MOUNT_PATH}/local.css">
</head>
<body><main>
${body}
</main></body>
</html>`;
}

function signInPage(action: string, values: { email?: string; name?: string; error?: string }): string {
  return page(
    "Sign in — Workshop Key Minter (local)",
    `<h1>Sign in</h1>
<p class="hint">This is the local stack's development sign-in: any email works and there is no password.
Emails started with <code>--admin</code> (or listed in <code>LOCAL_ADMINS</code>) see the organizer pages.</p>
${values.error ? `<p class="error" role="alert">${escapeHtml(values.error)}</p>` : ""}
<form method="post" action="${escapeHtml(action)}" autocomplete="on">
<label for="email">Email</label>
<input id="email" name="email" type="email" required autofocus value="${escapeHtml(values.email ?? "")}">
<label for="name">Name <span class="hint">(optional)</span></label>
<input id="name" name="name" type="text" maxlength="80" value="${escapeHtml(values.name ?? "")}">
<button type="submit">Continue</button>
</form>`,
  );
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 8 * 1024) throw new LocalOidcError("the sign-in form is larger than 8 KB");
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader("content-type", contentType);
  res.setHeader("cache-control", "no-store");
  res.end(body);
}

export async function createLocalOidc(opts: LocalOidcOptions): Promise<LocalOidc> {
  const dir = join(opts.dataDir, "oidc");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const origins = [opts.origin, ...(opts.extraOrigins ?? [])].filter((o, i, all) => all.indexOf(o) === i);
  const issuer = `${opts.origin}${OIDC_MOUNT_PATH}`;
  const redirectUris = origins.map((o) => `${o}/callback`);
  const accounts = new AccountStore(dir);
  const admins = () => new Set([...opts.admins].map(normalizeEmail));
  const signingKey = loadOrCreateSigningKey(dir);

  const configuration: Configuration = {
    clients: [
      {
        client_id: LOCAL_CLIENT_ID,
        client_name: "Workshop Key Minter (local)",
        application_type: "web",
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: redirectUris,
        post_logout_redirect_uris: origins.map((o) => `${o}/`),
      },
    ],
    adapter: memoryAdapterFactory(),
    jwks: { keys: [signingKey as never] },
    cookies: { keys: loadOrCreateCookieKeys(dir) },
    // Public SPA client: PKCE S256 is required for it (oidc-provider's default for public clients).
    pkce: { required: () => true },
    scopes: ["openid", "email", "profile"],
    claims: {
      openid: ["sub", "token_use", "cognito:groups"],
      email: ["email", "email_verified"],
      profile: ["name"],
    },
    // The SPA reads the profile from the ID token (as with Cognito), so scope claims go in it.
    conformIdTokenClaims: false,
    // Refresh tokens as Cognito issues them: in the code flow, without asking for offline_access, and
    // not tied to the provider's own cookie session (signing out revokes them instead). Each works
    // once: a refresh hands out the next one, so a stolen token that was already used is refused.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    expiresWithSession: async () => false,
    rotateRefreshToken: () => true,
    features: {
      devInteractions: { enabled: false },
      // The page revokes its refresh token when the visitor signs out.
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: KoaContextWithOIDC, form: string) => {
          ctx.body = page(
            "Sign out — Workshop Key Minter (local)",
            `<h1>Sign out?</h1>${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`,
          );
        },
        postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) => {
          ctx.body = page("Signed out", `<h1>Signed out</h1><p><a href="/">Back to the workshops</a></p>`);
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = "html";
      ctx.body = page(
        "Sign-in problem",
        `<h1>Sign-in problem</h1><p class="error">${escapeHtml(String(out.error_description ?? out.error))}</p>
<p><a href="/">Back to the workshops</a> and sign in again.</p>`,
      );
    },
    interactions: {
      url: (_ctx, interaction) => `${OIDC_MOUNT_PATH}/interaction/${interaction.uid}`,
    },
    // The SPA calls discovery, JWKS and the token endpoint from the stack's own origins only.
    clientBasedCORS: (_ctx: KoaContextWithOIDC, origin: string) => origins.includes(origin),
    // No consent screen: this first-party client always gets openid email profile.
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const client = ctx.oidc.client!;
      const session = ctx.oidc.session!;
      const grantId = (ctx.oidc.result?.consent as { grantId?: string } | undefined)?.grantId ?? session.grantIdFor(client.clientId);
      if (grantId) {
        const existing = await ctx.oidc.provider.Grant.find(grantId);
        if (existing) return existing;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId! });
      grant.addOIDCScope(OIDC_SCOPE);
      await grant.save();
      session.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
    findAccount: async (_ctx, sub) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        claims: async (use: string) => {
          const groups = admins().has(account.email) ? [ADMIN_GROUP] : undefined;
          return {
            sub,
            email: account.email,
            email_verified: true,
            ...(account.name ? { name: account.name } : {}),
            ...(groups ? { "cognito:groups": groups } : {}),
            // Cognito marks its ID tokens this way and the verifier insists on it.
            ...(use === "id_token" ? { token_use: "id" } : {}),
          };
        },
      };
    },
    ttl: {
      IdToken: opts.idTokenTtlSeconds ?? ID_TOKEN_TTL_SECONDS,
      AccessToken: opts.idTokenTtlSeconds ?? ID_TOKEN_TTL_SECONDS,
      // From the first sign-in, not from each refresh: the day ends for everyone at the same time
      // after they signed in, however often their page refreshed.
      RefreshToken: (ctx, _token, _client) => ctx?.oidc?.entities.RotatedRefreshToken?.remainingTTL ?? REFRESH_TOKEN_TTL_SECONDS,
      Session: 14 * 24 * 60 * 60,
      Grant: 14 * 24 * 60 * 60,
      Interaction: 60 * 60,
      AuthorizationCode: 10 * 60,
    },
  };

  // One provider per origin, all with the same keys, client, accounts and session store: oidc-provider
  // builds every URL from its issuer, and a token must name one issuer the page can reach.
  const providers = new Map<string, { provider: Provider; listener: ReturnType<Provider["callback"]> }>();
  for (const origin of origins) {
    const originIssuer = `${origin}${OIDC_MOUNT_PATH}`;
    try {
      const provider = new Provider(originIssuer, configuration);
      providers.set(origin, { provider, listener: provider.callback() });
    } catch (cause) {
      throw new LocalOidcError(`could not start the local OpenID provider at ${originIssuer}`, { cause });
    }
  }
  const originByHost = new Map(origins.map((o) => [new URL(o).host, o]));
  const providerFor = (req: IncomingMessage) => providers.get(originByHost.get((req.headers.host ?? "").toLowerCase()) ?? opts.origin)!;

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    const { provider } = providerFor(req);
    const action = `${OIDC_MOUNT_PATH}/interaction/${uid}`;
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      if (err instanceof oidcErrors.SessionNotFound) {
        send(res, 400, "text/html; charset=utf-8", page("Sign-in expired", `<h1>This sign-in has expired</h1>
<p>The page was open too long or the stack restarted. <a href="/">Back to the workshops</a> and sign in again.</p>`));
        return;
      }
      throw err;
    }
    if (details.uid !== uid) {
      send(res, 400, "text/html; charset=utf-8", page("Sign-in mismatch", `<h1>Another sign-in is in progress</h1><p><a href="/">Start again</a>.</p>`));
      return;
    }
    if (req.method === "GET") {
      const hint = typeof details.params.login_hint === "string" ? details.params.login_hint : "";
      send(res, 200, "text/html; charset=utf-8", signInPage(action, { email: hint }));
      return;
    }
    if (req.method !== "POST") {
      send(res, 405, "text/plain; charset=utf-8", "Method not allowed");
      return;
    }
    const form = await readForm(req);
    const email = (form.get("email") ?? "").trim();
    const name = (form.get("name") ?? "").trim().slice(0, 80);
    if (!EMAIL_PATTERN.test(email)) {
      send(res, 400, "text/html; charset=utf-8", signInPage(action, { email, name, error: "Enter an email address, e.g. ada@example.com." }));
      return;
    }
    const accountId = accounts.signIn(email, name || undefined);
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    opts.setHeaders?.(res);
    const url = new URL(req.url ?? "/", "http://local");
    const rest = url.pathname.slice(OIDC_MOUNT_PATH.length) || "/";
    if (rest === "/local.css") {
      res.setHeader("cache-control", "public, max-age=300");
      res.setHeader("content-type", "text/css; charset=utf-8");
      res.end(STYLESHEET);
      return;
    }
    const match = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(rest);
    if (match) {
      interaction(req, res, match[1]!).catch((err: unknown) => {
        console.error("local sign-in failed:", err instanceof Error ? err.message : err);
        if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "The local sign-in failed; see the terminal.");
        else res.end();
      });
      return;
    }
    // The connect convention oidc-provider understands: url without the mount, originalUrl with it.
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
    req.url = rest + url.search;
    providerFor(req).listener(req, res);
  }

  const { kty, n, e, kid, alg, use } = signingKey as Record<string, unknown>;
  return {
    issuer,
    issuers: [...providers.keys()].map((o) => `${o}${OIDC_MOUNT_PATH}`),
    issuerFor: (origin) => (providers.has(origin) ? `${origin}${OIDC_MOUNT_PATH}` : issuer),
    clientId: LOCAL_CLIENT_ID,
    jwksUri: `${issuer}/jwks`,
    jwks: { keys: [{ kty, n, e, kid, alg, use } as Jwks["keys"][number]] },
    redirectUris,
    handle,
  };
}
