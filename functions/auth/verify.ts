import { CognitoJwtVerifier } from "aws-jwt-verify";
import { JwtVerifier } from "aws-jwt-verify/jwt-verifier";
import { SimpleJwksCache, type Jwks } from "aws-jwt-verify/jwk";
import { TokenInvalidError, TokenMissingError } from "./errors.js";
import { LoopbackAwareFetcher } from "./fetcher.js";

/**
 * Sign-in verification. The same code checks Cognito ID tokens in the cloud and the local OpenID
 * provider's ID tokens (same claims) locally: signature against the issuer's JWKS, issuer, audience
 * (the app client id), `token_use: "id"`, expiry. Build the verifier once, at module scope: it keeps
 * the JWKS cache across requests.
 */

export interface AuthConfig {
  /**
   * The token issuer. A list where one server answers under several origins (the local stack on a
   * room network), each with its own issuer: every one is checked as strictly, the token's `iss`
   * only picks which.
   */
  issuer: string | readonly string[];
  clientId: string;
  /** Defaults to issuer + /.well-known/jwks.json (for each issuer). */
  jwksUri?: string;
  /** The group whose members are global admins (`cognito:groups`). */
  adminGroup?: string;
  /**
   * The issuer's public keys, when the verifier runs beside the issuer (the local stack): trusted as
   * given, so no JWKS is fetched over the network.
   */
  jwks?: Jwks;
}

/** Who is calling. `email` is present only when the provider says it is verified. */
export interface Principal {
  sub: string;
  email?: string;
  emailVerified: boolean;
  name?: string;
  groups: string[];
  isAdmin: boolean;
}

export type VerifyToken = (token: string | undefined) => Promise<Principal>;

const COGNITO_ISSUER = /^https:\/\/cognito-idp\.([a-z0-9-]+)\.amazonaws\.com\/([a-z0-9-]+_[A-Za-z0-9]+)$/;

export function createTokenVerifier(config: AuthConfig): VerifyToken {
  const adminGroup = config.adminGroup ?? "admins";
  const issuers = typeof config.issuer === "string" ? [config.issuer] : [...config.issuer];
  const cognito = issuers.length === 1 ? COGNITO_ISSUER.exec(issuers[0]!) : null;
  let verify: (token: string) => Promise<Record<string, unknown>>;

  if (cognito && !config.jwksUri) {
    const verifier = CognitoJwtVerifier.create({ userPoolId: cognito[2], tokenUse: "id", clientId: config.clientId });
    verify = (t) => verifier.verify(t) as Promise<Record<string, unknown>>;
  } else {
    const verifier = JwtVerifier.create(
      issuers.map((issuer) => ({
        issuer,
        audience: config.clientId,
        jwksUri: config.jwksUri ?? `${issuer.replace(/\/$/, "")}/.well-known/jwks.json`,
        customJwtCheck: ({ payload }: { payload: Record<string, unknown> }) => {
          if (payload.token_use !== "id") throw new Error(`token_use must be "id", got ${JSON.stringify(payload.token_use)}`);
        },
      })),
      { jwksCache: new SimpleJwksCache({ fetcher: new LoopbackAwareFetcher() }) },
    );
    if (config.jwks) for (const issuer of issuers) verifier.cacheJwks(config.jwks, issuer);
    verify = (t) => verifier.verify(t) as Promise<Record<string, unknown>>;
  }

  return async (token) => {
    if (!token) throw new TokenMissingError();
    let payload: Record<string, unknown>;
    try {
      payload = await verify(token);
    } catch (err) {
      throw new TokenInvalidError(err);
    }
    checkTokenTimes(payload, Date.now() / 1000);
    return principalFrom(payload, adminGroup);
  };
}

/** How far ahead of this clock an issuer's clock may run before its `iat` is refused. */
export const CLOCK_SKEW_SECONDS = 60;

/**
 * aws-jwt-verify checks `exp` only when a token carries one, and never looks at `iat`. A signed token
 * without an expiry would open the API for ever, and one issued "in the future" outlives the
 * lifetime its issuer meant, so both are refused here, after the signature check, for every issuer.
 */
export function checkTokenTimes(payload: Record<string, unknown>, nowSeconds: number): void {
  if (typeof payload.exp !== "number" || !Number.isFinite(payload.exp)) throw new TokenInvalidError(new Error("token has no exp"));
  if (payload.iat === undefined) return;
  if (typeof payload.iat !== "number" || !Number.isFinite(payload.iat)) throw new TokenInvalidError(new Error("token's iat is not a number"));
  if (payload.iat > nowSeconds + CLOCK_SKEW_SECONDS) throw new TokenInvalidError(new Error(`token issued in the future (iat ${payload.iat}, now ${Math.floor(nowSeconds)})`));
}

export function principalFrom(payload: Record<string, unknown>, adminGroup = "admins"): Principal {
  if (typeof payload.sub !== "string" || payload.sub === "") throw new TokenInvalidError(new Error("token has no sub"));
  // Cognito sends email_verified as a boolean; some providers send the string "true".
  const emailVerified = payload.email_verified === true || payload.email_verified === "true";
  const email = emailVerified && typeof payload.email === "string" && payload.email ? payload.email : undefined;
  const rawGroups = payload["cognito:groups"];
  const groups = Array.isArray(rawGroups) ? rawGroups.filter((g): g is string => typeof g === "string") : [];
  const name =
    typeof payload.name === "string" && payload.name
      ? payload.name
      : typeof payload.preferred_username === "string" && payload.preferred_username
        ? payload.preferred_username
        : undefined;
  return { sub: payload.sub, ...(email ? { email } : {}), emailVerified, ...(name ? { name } : {}), groups, isAdmin: groups.includes(adminGroup) };
}

/** The token from an `Authorization: Bearer …` header (undefined when absent or another scheme). */
export function bearerToken(header: string | undefined | null): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m ? m[1] : undefined;
}
