/**
 * oidc-provider 9 ships no type declarations; this is the subset the local OpenID provider uses.
 */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export interface Interaction {
    uid: string;
    params: Record<string, unknown>;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
  }

  export interface GrantInstance {
    jti: string;
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  }

  export interface KoaContextWithOIDC {
    body: unknown;
    type: string;
    host: string;
    oidc: {
      client?: { clientId: string };
      session?: { accountId?: string; grantIdFor(clientId: string, value?: string): string | undefined };
      result?: Record<string, unknown>;
      provider: Provider;
    };
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string): Promise<Record<string, unknown>>;
  }

  export interface Configuration {
    clients?: Record<string, unknown>[];
    adapter?: new (model: string) => object;
    jwks?: { keys: Record<string, unknown>[] };
    cookies?: { keys?: string[] };
    pkce?: { required?: (ctx: KoaContextWithOIDC, client: unknown) => boolean };
    scopes?: string[];
    claims?: Record<string, string[]>;
    conformIdTokenClaims?: boolean;
    clientBasedCORS?: (ctx: KoaContextWithOIDC, origin: string, client: unknown) => boolean;
    features?: Record<string, Record<string, unknown>>;
    renderError?: (ctx: KoaContextWithOIDC, out: Record<string, unknown>, error: unknown) => Promise<void>;
    interactions?: { url?: (ctx: KoaContextWithOIDC, interaction: Interaction) => string | Promise<string> };
    loadExistingGrant?: (ctx: KoaContextWithOIDC) => Promise<GrantInstance | undefined>;
    findAccount?: (ctx: KoaContextWithOIDC, sub: string, token?: unknown) => Promise<Account | undefined>;
    issueRefreshToken?: (ctx: KoaContextWithOIDC, client: OidcClient, source: unknown) => Promise<boolean>;
    expiresWithSession?: (ctx: KoaContextWithOIDC, source: unknown) => Promise<boolean>;
    rotateRefreshToken?: (ctx: KoaContextWithOIDC) => boolean;
    /** Seconds, or a function of the token being issued (e.g. a rotated refresh token's remaining time). */
    ttl?: Record<string, number | ((ctx: KoaContextWithTokens | undefined, token: unknown, client: unknown) => number)>;
  }

  export interface OidcClient {
    clientId: string;
    grantTypeAllowed(grantType: string): boolean;
  }

  /** The context as the token endpoint sees it: the refresh token a refresh grant is rotating. */
  export interface KoaContextWithTokens {
    oidc?: { entities: { RotatedRefreshToken?: { remainingTTL: number } } };
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    Grant: {
      new (init: { clientId: string; accountId: string }): GrantInstance;
      find(id: string): Promise<GrantInstance | undefined>;
    };
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export const errors: {
    SessionNotFound: new (...args: unknown[]) => Error;
  };
}
