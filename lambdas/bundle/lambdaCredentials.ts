/**
 * Stands in for @aws-sdk/credential-provider-node, the SDK's default credential chain, in the
 * Lambda bundles only (scripts/lambda-bundles.ts aliases it; tests, the CLI and the sandbox keep
 * the real chain). The real chain carries every way a machine can hold credentials (profiles and
 * their files, SSO, credential processes, web identity tokens, EC2 instance metadata) and the
 * nested STS, SSO and sign-in clients some of them need: ≈ 125 KiB of every bundle and ≈ 10 ms of
 * its cold init. A Lambda function gets its role's credentials from the environment Lambda sets
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the chain's first link, so on
 * Lambda both give the same credentials. This chain keeps that link and the container endpoint
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI, the real chain's remote link on
 * container hosts), memoized as the real chain memoizes them (refreshed 5 minutes before they
 * expire), and names what it looked for when neither is there. One difference: with AWS_PROFILE
 * set, the real chain skips the environment for the profile's files, which a Lambda function does
 * not have (so it fails there); this one still reads the environment.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import { chain, CredentialsProviderError, memoize } from '@smithy/core/config';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Logger } from '@smithy/types';

/** What the SDK clients pass to their credential default provider (the parts used here). */
export interface DefaultProviderInit {
  readonly logger?: Logger;
}

/** As the real chain: credentials that expire are refreshed this long before they do. */
const REFRESH_BEFORE_EXPIRY_MS = 300_000;

export const credentialsWillNeedRefresh = (credentials: AwsCredentialIdentity | undefined): boolean =>
  credentials?.expiration !== undefined;

export const credentialsTreatedAsExpired = (credentials: AwsCredentialIdentity | undefined): boolean =>
  credentials?.expiration !== undefined && credentials.expiration.getTime() - Date.now() < REFRESH_BEFORE_EXPIRY_MS;

export function defaultProvider(init: DefaultProviderInit = {}): AwsCredentialIdentityProvider {
  return memoize(
    chain(
      fromEnv(init),
      // fromHttp throws at once when no container endpoint is set: on to the next link.
      async () => fromHttp(init)(),
      async () => {
        throw new CredentialsProviderError(
          'Could not load credentials: a Rotor Lambda bundle reads them from the environment Lambda sets ' +
            '(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or from a container credentials endpoint ' +
            '(AWS_CONTAINER_CREDENTIALS_FULL_URI or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), and neither is set',
          { tryNextLink: false, logger: init.logger },
        );
      },
    ),
    credentialsTreatedAsExpired,
    credentialsWillNeedRefresh,
  );
}
