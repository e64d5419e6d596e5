import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { GoogleSignIn } from "./settings.js";

export const ADMIN_GROUP = "admins";
export const AUTH_SCOPE = "openid email profile";

export interface AttendeeAuthArgs {
  region: string;
  /** The site's origin, e.g. https://keys.example.org: sign-in returns to `<origin>/callback`. */
  siteOrigin: pulumi.Input<string>;
  /** The managed-login domain prefix: `<prefix>.auth.<region>.amazoncognito.com`. */
  domainPrefix: string;
  /** Invited as Cognito users and put in the `admins` group. */
  adminEmails: string[];
  google?: GoogleSignIn;
  sesEmail?: { from: string; identityArn: string };
  tags?: Record<string, string>;
}

/**
 * Sign-in for attendees and organizers: a Cognito user pool with managed login, email as the
 * username and verified by code, an SPA client (authorization code + PKCE, no secret), the
 * `admins` group with the configured admins in it, and Google as an optional identity provider.
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
  /** The managed-login origin, for the site's Content-Security-Policy. */
  readonly loginOrigin: string;

  constructor(name: string, args: AttendeeAuthArgs, opts?: pulumi.ComponentResourceOptions) {
    super("wkm:auth:AttendeeAuth", name, {}, opts);
    this.loginOrigin = `https://${args.domainPrefix}.auth.${args.region}.amazoncognito.com`;

    this.userPool = this.createUserPool(name, args);
    const domain = this.createLoginDomain(name, args.domainPrefix);
    const identityProviders = this.createIdentityProviders(name, args.google);
    this.client = this.createSpaClient(name, args.siteOrigin, identityProviders);
    this.createLoginBranding(name, domain);
    this.createAdmins(name, args.adminEmails);

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
        // Managed login (version 2) needs the Essentials tier; 10,000 monthly active users are free.
        userPoolTier: "ESSENTIALS",
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
        // Sign-in happens on managed login (code + PKCE); no direct password flow is offered to scripts.
        explicitAuthFlows: ["ALLOW_REFRESH_TOKEN_AUTH"],
        preventUserExistenceErrors: "ENABLED",
        enableTokenRevocation: true,
        idTokenValidity: 60,
        accessTokenValidity: 60,
        refreshTokenValidity: 30,
        tokenValidityUnits: { idToken: "minutes", accessToken: "minutes", refreshToken: "days" },
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

  private createAdmins(name: string, adminEmails: string[]): void {
    const group = new aws.cognito.UserGroup(
      `${name}-admins`,
      { userPoolId: this.userPool.id, name: ADMIN_GROUP, description: "Global organizers: see and repair every workshop" },
      { parent: this },
    );
    for (const email of adminEmails) {
      const id = email.replace(/[^a-z0-9]+/g, "-");
      const user = new aws.cognito.User(
        `${name}-admin-${id}`,
        {
          userPoolId: this.userPool.id,
          username: email,
          attributes: { email, email_verified: "true" },
          desiredDeliveryMediums: ["EMAIL"],
        },
        { parent: this },
      );
      new aws.cognito.UserInGroup(
        `${name}-admin-${id}-in-admins`,
        { userPoolId: this.userPool.id, groupName: group.name, username: user.username },
        { parent: this },
      );
    }
  }
}
