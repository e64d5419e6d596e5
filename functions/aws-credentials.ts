import { fromEnv } from "@aws-sdk/credential-provider-env";

/**
 * AWS credentials for the Lambdas: the ones Lambda puts in the function's environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), nothing else. The handlers give
 * every AWS client `lambdaCredentials` explicitly.
 *
 * The SDK's default chain (`@aws-sdk/credential-provider-node`) also knows SSO, STS web identity,
 * INI profiles, processes and instance metadata; a Lambda uses none of them, and they are about
 * 100 KB of code to load at every cold start. The Lambda bundle (infra/bundle.ts) therefore puts
 * this module in its place: `defaultProvider` below answers with the environment too, so a client
 * created without explicit credentials still works the same in a Lambda.
 */
export const lambdaCredentials = fromEnv();

/** Stands in for `@aws-sdk/credential-provider-node`'s `defaultProvider` inside the Lambda bundles. */
export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
