import type { Logger } from '@aws-lambda-powertools/logger';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RotationStateError, UnsafeRotationError } from '../core/errors.js';
import { Redactor } from '../core/redact.js';
import { readSecretValue, sharesCredential } from '../core/secretValue.js';
import { SecretsApi, versionWithStage, type SecretDescription } from '../core/secretsApi.js';
import { describeReplicas, waitForReplicas, type ReplicaState } from '../core/replication.js';
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

/** What removing the leaked version's AWSPREVIOUS label did. */
export interface LabelRemoval {
  /** The labels as read just before (the claim of the announcement needs the version ids). */
  readonly labels: SecretDescription;
  /** This call removed the label (false: it was gone already, e.g. a concurrent delivery removed it). */
  readonly removed: boolean;
  /** The secret's replicas as last reported (empty: not replicated). */
  readonly replicas: readonly ReplicaState[];
  /** Replicas not InSync when the bounded wait ended (empty when all are). */
  readonly replicasNotInSync: readonly ReplicaState[];
}

export interface LabelRemovalOptions {
  readonly logger: Logger;
  readonly sleep: (ms: number) => Promise<void>;
  /** @default Bounds.replicaSync.waitMs */
  readonly replicaWaitMs?: number;
  /** @default Bounds.replicaSync.pollMs */
  readonly replicaPollMs?: number;
}

/**
 * Nothing may fall back to the leaked value: removes AWSPREVIOUS from the leaked version
 * (UpdateSecretVersionStage RemoveFromVersionId), whatever the kind; the version keeps its value
 * but no label, so neither the primary nor a replica serves it by label. For a secret with
 * replicas, then waits (bounded, as finishSecret does) until Secrets Manager reports every
 * replica InSync. A replica not in sync by then is reported (in the result, the log and the
 * Revoked event), not thrown: the leaked credential is already revoked on its target, so a
 * replica still labelling it AWSPREVIOUS points at a dead credential, and failing the event
 * would only rotate and revoke again.
 */
export async function removeLeakedLabel(
  api: SecretsApi,
  secretArn: string,
  leakedVersionId: string,
  options: LabelRemovalOptions,
): Promise<LabelRemoval> {
  // Read the labels again: a concurrent delivery of the same leak may have removed it already.
  const labels = await api.describe(secretArn);
  let removed = false;
  if ((labels.versions[leakedVersionId] ?? []).includes(Stages.PREVIOUS)) {
    removed = await api.moveStage(secretArn, Stages.PREVIOUS, { from: leakedVersionId }).then(
      () => true,
      (err: Error) => {
        if (!/not found in version|isn't attached|not attached/i.test(err.message)) throw err;
        return false;
      },
    );
  }
  if (labels.replicas.length === 0) return { labels, removed, replicas: [], replicasNotInSync: [] };
  const wait = await waitForReplicas(
    async () => (await api.describe(secretArn)).replicas,
    // Read after a removal by someone else: that report is already the first look.
    removed ? undefined : labels.replicas,
    { waitMs: options.replicaWaitMs, pollMs: options.replicaPollMs, sleep: options.sleep },
  );
  if (wait.inSync) {
    options.logger.info('every replica is in sync: none can fall back to the leaked value', {
      replicas: wait.replicas.map((r) => r.region),
      polls: wait.polls,
    });
  } else {
    options.logger.warn(`replicas not in sync after AWSPREVIOUS was removed: ${describeReplicas(wait.notInSync)}`, {
      replicas: wait.notInSync.map((r) => ({ region: r.region, status: r.status })),
      polls: wait.polls,
      waitedMs: wait.waitedMs,
    });
  }
  return { labels, removed, replicas: wait.replicas, replicasNotInSync: wait.notInSync };
}
