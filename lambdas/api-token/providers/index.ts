import { SecretFormatError } from '../../core/errors.js';
import type { TokenProvider } from '../provider.js';
import type { ApiTokenSecret } from '../secret.js';
import type { UrlPolicy } from '../urls.js';
import { cloudflareProvider } from './cloudflare.js';
import { datadogProvider } from './datadog.js';
import { httpProvider } from './http.js';

/** The providers a secret's `provider` field may name. */
export const providers: Readonly<Record<string, TokenProvider>> = {
  [datadogProvider.name]: datadogProvider,
  [cloudflareProvider.name]: cloudflareProvider,
  [httpProvider.name]: httpProvider,
};

/** The provider a secret names, after its provider-specific checks. */
export function providerFor(secret: ApiTokenSecret, where: string, policy: UrlPolicy): TokenProvider {
  const provider = Object.hasOwn(providers, secret.provider) ? providers[secret.provider] : undefined;
  if (!provider) {
    const shown = secret.provider.replace(/[^\w.-]/g, '?').slice(0, 40);
    throw new SecretFormatError(
      `${where}: field 'provider' is invalid: unknown provider '${shown}' (known: ${Object.keys(providers).join(', ')})`,
    );
  }
  provider.validate(secret, where, policy);
  return provider;
}

export { cloudflareProvider, datadogProvider, httpProvider };
