import type { Logger } from '@aws-lambda-powertools/logger';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RotationStateError, UnsafeRotationError } from '../core/errors.js';
import { Redactor } from '../core/redact.js';
import { readSecretValue, sharesCredential } from '../core/secretValue.js';
import { SecretsApi, versionWithStage, type SecretDescription } from '../core/secretsApi.js';
import { readSettings } from '../core/settings.js';
import { Stages, type RevokeContext, type RotationKind, type Strategy } from '../core/types.js';

export interface RevokeRequest {
  /** The secret (ARN). */
  readonly secretArn: string;
  /** Its description as read just before (labels). */
  readonly description: SecretDescription;
  /** The version whose value leaked. Must not be AWSCURRENT. */
  readonly versionId: string;
  readonly strategy: Strategy;
}

export interface RevokeDeps {
  readonly client: SecretsManagerClient;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Calls a kind's `revoke` hook for one leaked version: reads the leaked value and AWSCURRENT,
 * refuses if the leaked value is the current one (that would break the working credential),
 * and gives the hook the master secret and random passwords it may need. Errors leave here with
 * every value redacted. Returns the Secrets Manager calls made.
 */
export async function revokeVersion<S>(kind: RotationKind<S>, request: RevokeRequest, deps: RevokeDeps): Promise<number> {
  if (!kind.revoke) throw new RotationStateError(`${kind.name}: this kind cannot revoke a leaked value`);
  const redactor = new Redactor();
  const api = new SecretsApi(deps.client);
  const where = `secret ${request.secretArn}`;
  try {
    const currentId = versionWithStage(request.description, Stages.CURRENT);
    if (!currentId) throw new RotationStateError(`${where}: no version is staged AWSCURRENT`);
    if (currentId === request.versionId) {
      throw new UnsafeRotationError(`${where}: the leaked version is still AWSCURRENT; rotate before revoking`);
    }
    const parse = (raw: string | undefined, label: string, secretId = request.secretArn): S =>
      readSecretValue(kind, raw, `secret ${secretId} (${label})`, redactor);
    const stages = request.description.versions[request.versionId] ?? [];
    // Name the stage when the version still has one (moto needs it); an unlabelled version by id.
    const leakedRaw =
      (await api.getValue(request.secretArn, request.versionId, stages.includes(Stages.PREVIOUS) ? Stages.PREVIOUS : undefined)) ??
      // The label may have gone since the description was read (a concurrent revoke): by id alone.
      (stages.includes(Stages.PREVIOUS) ? await api.getValue(request.secretArn, request.versionId, undefined) : undefined);
    if (leakedRaw === undefined) throw new RotationStateError(`${where}: version ${request.versionId} has no value`);
    const leaked = parse(leakedRaw, `version ${request.versionId}`);
    const current = parse(await api.getValue(request.secretArn, currentId, Stages.CURRENT), Stages.CURRENT);
    if (sharesCredential(kind, leaked, current)) {
      throw new UnsafeRotationError(`${where}: the leaked value is the same credential as AWSCURRENT; refusing to revoke it`);
    }
    const settings = readSettings({ ...(deps.env ?? process.env), ROTATION_STRATEGY: request.strategy }, kind);
    const ctx: RevokeContext<S> = {
      secretArn: request.secretArn,
      token: request.versionId,
      strategy: request.strategy,
      logger: deps.logger,
      recordLogin: () => undefined,
      redact: (value) => redactor.add(value),
      current: { versionId: currentId, value: current },
      readSecret: async (secretId) => parse(await api.getValue(secretId, undefined, Stages.CURRENT), Stages.CURRENT, secretId),
      randomPassword: async () => {
        const password = await api.randomPassword(settings.passwordPolicy);
        redactor.add(password);
        return password;
      },
    };
    await kind.revoke(leaked, ctx);
    return api.calls;
  } catch (err) {
    throw redactor.error(err);
  }
}
