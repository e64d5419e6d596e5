import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import type { GoogleSignIn } from "./settings.js";

export const ADMIN_GROUP = "admins";
export const AUTH_SCOPE = "openid email profile";
/**
 * What the SPA client allows. Managed login shows the sign-in methods the app client's flows
 * permit ("Configure authentication methods for managed login", Cognito developer guide): choice-based
 * USER_AUTH (the pool allows only the password factor, see `signInPolicy`) and SRP, so the password
 * never leaves the browser. Refresh tokens keep a signed-in attendee signed in for the session, at
 * the token endpoint with refresh-token rotation (`REFRESH_TOKEN_ROTATION`): without
 * ALLOW_REFRESH_TOKEN_AUTH, which AWS documents as incompatible with rotation.
 */
export const SPA_AUTH_FLOWS = ["ALLOW_USER_AUTH", "ALLOW_USER_SRP_AUTH"];
/**
 * Each refresh hands out a new refresh token and retires the old one after a short grace (two tabs
 * refreshing at once), so a stolen refresh token stops working at its owner's next refresh instead
 * of lasting the whole session (web/src/auth.ts keeps each new one).
 */
export const REFRESH_TOKEN_ROTATION = { feature: "ENABLED", retryGracePeriodSeconds: 10 };
/** ID and access tokens are short-lived; the refresh token (sessionHours) carries the session. */
export const TOKEN_MINUTES = 60;

export interface AttendeeAuthArgs {
  region: string;
  /** The site's origin, e.g. https://keys.example.org: sign-in returns to `<origin>/callback`. */
  siteOrigin: pulumi.Input<string>;
  /** The managed-login domain prefix: `<prefix>.auth.<region>.amazoncognito.com`. */
  domainPrefix: string;
  /** Invited as Cognito users and put in the `admins` group. */
  adminEmails: string[];
  /**
   * Invited as Cognito users (not admins): the organizers of the workshop files. Their accounts
   * exist before anyone else could sign up with their public addresses and leave them unconfirmed.
   */
  organizerEmails: string[];
  /** How long a sign-in lasts: the refresh token's validity, in hours. */
  sessionHours: number;
  google?: GoogleSignIn;
  sesEmail?: { from: string; identityArn: string };
  tags?: Record<string, string>;
}

/**
 * Sign-in for attendees and organizers: a Cognito user pool with managed login, email as the
 * username and verified by code, an SPA client (authorization code + PKCE, no secret, refresh
 * tokens for the session), invited accounts for the admins (in the `admins` group) and the
 * workshops' organizers, and Google as an optional identity provider.
 */
export class AttendeeAuth extends pulumi.ComponentResource {
  readonly userPool: aws.cognito.UserPool;
  readonly client: aws.cognito.UserPoolClient;
  readonly issuer: pulumi.Output<string>;
  readonly clientId: pulumi.Output<string>;
  readonly jwksUri: pulumi.Output<string>;
  /** Where the browser goes to sign out (Cognito's /logout with this client and the site's origin). */
  readonly logoutUri: pulumi.Output<string>;
  readonly redirectUri: pulumi.Output<string>;
  /** The managed-login origin (`managedLoginOrigin`): where sign-in and sign-out happen. */
  readonly loginOrigin: string;

  constructor(name: string, args: AttendeeAuthArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:auth:AttendeeAuth", name, {}, opts);
    this.loginOrigin = managedLoginOrigin(args.domainPrefix, args.region);

    this.userPool = this.createUserPool(name, args);
    const domain = this.createLoginDomain(name, args.domainPrefix);
    const identityProviders = this.createIdentityProviders(name, args.google);
    this.client = this.createSpaClient(name, args.siteOrigin, identityProviders, args.sessionHours);
    this.createLoginBranding(name, domain);
    this.createAccounts(name, args.adminEmails, args.organizerEmails);

    this.issuer = pulumi.interpolate`https://cognito-idp.${args.region}.amazonaws.com/${this.userPool.id}`;
    this.jwksUri = pulumi.interpolate`${this.issuer}/.well-known/jwks.json`;
    this.clientId = this.client.id;
    this.redirectUri = pulumi.interpolate`${args.siteOrigin}/callback`;
    this.logoutUri = pulumi
      .all([this.client.id, args.siteOrigin])
      .apply(([clientId, origin]) => `${this.loginOrigin}/logout?client_id=${encodeURIComponent(clientId)}&logout_uri=${encodeURIComponent(`${origin}/`)}`);
    this.registerOutputs({ issuer: this.issuer, clientId: this.clientId });
  }

  private createUserPool(name: string, args: AttendeeAuthArgs): aws.cognito.UserPool {
    return new aws.cognito.UserPool(
      `${name}-users`,
      {
        usernameAttributes: ["email"],
        autoVerifiedAttributes: ["email"],
        usernameConfiguration: { caseSensitive: false },
        accountRecoverySetting: { recoveryMechanisms: [{ name: "verified_email", priority: 1 }] },
        verificationMessageTemplate: {
          defaultEmailOption: "CONFIRM_WITH_CODE",
          emailSubject: "Your workshop sign-in code",
          emailMessage: "Your verification code is {####}.",
        },
        passwordPolicy: {
          minimumLength: 12,
          requireLowercase: false,
          requireUppercase: false,
          requireNumbers: false,
          requireSymbols: false,
          temporaryPasswordValidityDays: 7,
        },
        schemas: [{ name: "email", attributeDataType: "String", required: true, mutable: true, stringAttributeConstraints: { minLength: "3", maxLength: "254" } }],
        // A changed email stays unverified (and gives no organizer rights or email lock) until the new
        // address is confirmed; the old one keeps working meanwhile.
        userAttributeUpdateSettings: { attributesRequireVerificationBeforeUpdates: ["email"] },
        adminCreateUserConfig: {
          allowAdminCreateUserOnly: false,
          inviteMessageTemplate: {
            emailSubject: "You are an organizer of the workshop key minter",
            emailMessage: "Sign in as {username} with the temporary password {####} and choose your own.",
            smsMessage: "Sign in as {username} with {####}.",
          },
        },
        emailConfiguration: args.sesEmail
          ? { emailSendingAccount: "DEVELOPER", fromEmailAddress: args.sesEmail.from, sourceArn: args.sesEmail.identityArn }
          : { emailSendingAccount: "COGNITO_DEFAULT" },
        // Managed login (version 2) and choice-based sign-in (USER_AUTH) need the Essentials tier;
        // 10,000 monthly active users are free.
        userPoolTier: "ESSENTIALS",
        // Email and password only: passwordless codes would send one more email per sign-in.
        signInPolicy: { allowedFirstAuthFactors: ["PASSWORD"] },
        // Attendee accounts hold personal data; a stray destroy must not wipe them.
        deletionProtection: "ACTIVE",
        tags: args.tags,
      },
      { parent: this },
    );
  }

  private createLoginDomain(name: string, prefix: string): aws.cognito.UserPoolDomain {
    return new aws.cognito.UserPoolDomain(
      `${name}-domain`,
      { domain: prefix, userPoolId: this.userPool.id, managedLoginVersion: 2 },
      { parent: this },
    );
  }

  private createIdentityProviders(name: string, google: GoogleSignIn | undefined): { names: string[]; resources: pulumi.Resource[] } {
    if (!google) return { names: ["COGNITO"], resources: [] };
    const provider = new aws.cognito.IdentityProvider(
      `${name}-google`,
      {
        userPoolId: this.userPool.id,
        providerName: "Google",
        providerType: "Google",
        providerDetails: {
          client_id: google.clientId,
          client_secret: google.clientSecret,
          authorize_scopes: "openid email profile",
        },
        attributeMapping: { email: "email", email_verified: "email_verified", name: "name", username: "sub" },
      },
      { parent: this },
    );
    return { names: ["COGNITO", "Google"], resources: [provider] };
  }

  private createSpaClient(
    name: string,
    siteOrigin: pulumi.Input<string>,
    identityProviders: { names: string[]; resources: pulumi.Resource[] },
    sessionHours: number,
  ): aws.cognito.UserPoolClient {
    return new aws.cognito.UserPoolClient(
      `${name}-spa`,
      {
        userPoolId: this.userPool.id,
        // A browser cannot keep a secret: a public client on the code flow; the SPA sends a PKCE
        // challenge with every sign-in (web/src/auth.ts).
        generateSecret: false,
        allowedOauthFlowsUserPoolClient: true,
        allowedOauthFlows: ["code"],
        allowedOauthScopes: AUTH_SCOPE.split(" "),
        callbackUrls: [pulumi.interpolate`${siteOrigin}/callback`],
        logoutUrls: [pulumi.interpolate`${siteOrigin}/`],
        supportedIdentityProviders: identityProviders.names,
        explicitAuthFlows: SPA_AUTH_FLOWS,
        refreshTokenRotation: REFRESH_TOKEN_ROTATION,
        preventUserExistenceErrors: "ENABLED",
        // A refresh token can be revoked (/oauth2/revoke) when its holder signs out.
        enableTokenRevocation: true,
        idTokenValidity: TOKEN_MINUTES,
        accessTokenValidity: TOKEN_MINUTES,
        refreshTokenValidity: sessionHours,
        tokenValidityUnits: { idToken: "minutes", accessToken: "minutes", refreshToken: "hours" },
      },
      { parent: this, dependsOn: identityProviders.resources },
    );
  }

  /** Managed login (version 2) shows an error page for a client that has no branding style. */
  private createLoginBranding(name: string, domain: aws.cognito.UserPoolDomain): void {
    new aws.cognito.ManagedLoginBranding(
      `${name}-branding`,
      { userPoolId: this.userPool.id, clientId: this.client.id, useCognitoProvidedValues: true },
      { parent: this, dependsOn: [domain] },
    );
  }

  /**
   * One invited account per admin and organizer address (an address listed as both is one
   * account), admins also in the `admins` group. Accounts are kept when an address leaves the list:
   * they belong to people (their claims hang on the account's `sub`); only the group membership goes.
   */
  private createAccounts(name: string, adminEmails: string[], organizerEmails: string[]): void {
    const group = new aws.cognito.UserGroup(
      `${name}-admins`,
      { userPoolId: this.userPool.id, name: ADMIN_GROUP, description: "Global organizers: see and repair every workshop" },
      { parent: this },
    );
    const admins = new Set(adminEmails.map(normalizeAccountEmail));
    for (const email of invitedAccounts(adminEmails, organizerEmails)) {
      const id = accountResourceId(email);
      const user = new aws.cognito.User(
        `${name}-user-${id}`,
        {
          userPoolId: this.userPool.id,
          username: email,
          attributes: { email, email_verified: "true" },
          desiredDeliveryMediums: ["EMAIL"],
        },
        // Admin accounts were named `<name>-admin-<address>` before organizers were invited too.
        { parent: this, retainOnDelete: true, aliases: [{ name: `${name}-admin-${legacyAccountId(email)}` }] },
      );
      if (!admins.has(email)) continue;
      new aws.cognito.UserInGroup(
        `${name}-admin-${legacyAccountId(email)}-in-admins`,
        { userPoolId: this.userPool.id, groupName: group.name, username: user.username },
        { parent: this },
      );
    }
  }
}

/** Cognito's managed login for a domain prefix, e.g. https://workshop-keys-prod-….auth.eu-central-1.amazoncognito.com */
export function managedLoginOrigin(domainPrefix: string, region: string): string {
  return `https://${domainPrefix}.auth.${region}.amazoncognito.com`;
}

/** Cognito usernames here are email addresses, compared without case. */
function normalizeAccountEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Every address that gets an account, once each, admins first, in a stable order. */
export function invitedAccounts(adminEmails: string[], organizerEmails: string[]): string[] {
  return [...new Set([...adminEmails, ...organizerEmails].map(normalizeAccountEmail))];
}

function legacyAccountId(email: string): string {
  return email.replace(/[^a-z0-9]+/g, "-");
}

/** A resource name per address; the hash keeps `a.b@x.org` and `a-b@x.org` apart. */
function accountResourceId(email: string): string {
  return `${legacyAccountId(email)}-${createHash("sha256").update(email).digest("hex").slice(0, 6)}`;
}
