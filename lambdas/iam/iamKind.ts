import { IAMClient, NoSuchEntityException } from '@aws-sdk/client-iam';
import * as z from 'zod/mini';
import '../contract/zodMessages.js';
import { KIND_TRAITS, Kinds, settings } from '../contract/index.js';
import { ConfigurationError, RotationStepError, UnsafeRotationError } from '../core/errors.js';
import { readSetting } from '../core/settings.js';
import {
  type CreateContext,
  type KindContext,
  type RevokeContext,
  type RotationKind,
  type SetContext,
  type TestContext,
} from '../core/types.js';
import { AccessKeys, keyMarker, KeyStatus, type AccessKeyInfo } from './accessKeys.js';
import {
  callerIdentity,
  defaultStsClientFactory,
  KeyNotAcceptedError,
  userNameOfArn,
  type StsClientFactory,
} from './callerIdentity.js';
import { parseIamSecret, type IamSecret } from './secret.js';
import type { RetireContext } from '../retire/context.js';
import type { UsageEvidence } from '../retire/evidence.js';

/*
 * How an IAM access key rotates (the user holds at most two keys):
 *
 * createSecret  makes room, then creates a key and marks it as Rotor's (an IAM user tag whose key
 *               is the access key id and whose value is `Rotor: <secret name>`; the IAM console
 *               shows it as the key's description). Making room never touches the AWSCURRENT key.
 *               The orphan rule: a key of the user that neither AWSCURRENT nor AWSPREVIOUS holds
 *               is deleted only if it carries this secret's mark, i.e. Rotor created it for this
 *               secret and the value was never stored (the function stopped between
 *               CreateAccessKey and PutSecretValue, or PutSecretValue failed). Any other such key
 *               is never deleted: when the user has no room left, createSecret fails naming it.
 *               If the user still holds two keys, the one AWSPREVIOUS holds is deleted; if it is
 *               still Active, its grace window is cut short and a warning says so.
 *               (The one gap: a stop between CreateAccessKey and TagUser leaves an unmarked key;
 *               the retry then fails naming it, and an operator deletes it.)
 * setSecret     nothing to change (a key is live when created): checks it exists and is Active.
 * testSecret    STS GetCallerIdentity signed with the new key, retried with backoff within a
 *               bound while IAM's eventual consistency settles; the ARN must be the user's; then
 *               IAM must report the key Active (an inactive key must not pass, and moto lets one
 *               sign).
 * lastUse       (the retire handler, before retire) asks IAM when the previous key was last used
 *               (GetAccessKeyLastUsed): a use after the new key took over keeps it active.
 * retire        (the scheduled retire handler, after the grace window, unless a consumer still
 *               uses the key) deactivates the previous key; the next createSecret deletes it.
 * revoke        (emergencies) deactivates, then deletes, the leaked key.
 *               lastUse, retire and revoke refuse an old value for another user than AWSCURRENT's
 *               (refuseAnotherUser): a hand-written version must not reach another user's key.
 */

/** IAM allows a user two access keys. */
export const MAX_KEYS_PER_USER = 2;

/**
 * Defaults of the IAM kind. The grace window itself (24 hours unless the secret's `graceperiod`
 * or the `rotor:grace-hours` tag says otherwise) belongs to the retire handler.
 */
export const iamDefaults = {
  /** testSecret: how long STS may refuse the new key while IAM's eventual consistency settles. */
  testTimeoutMs: settings.iamTestTimeoutMs.default ?? 60_000,
  /** testSecret: first wait between two STS attempts (doubles each time). */
  testFirstDelayMs: 500,
  /** testSecret: longest wait between two STS attempts. */
  testMaxDelayMs: 8_000,
} as const;

export interface IamKindOptions {
  /**
   * The IAM client (or a factory, called once on first use).
   * @default - new IAMClient({}), with the function's credentials, region and AWS_ENDPOINT_URL
   */
  readonly iam?: IAMClient | (() => IAMClient);
  /**
   * Builds the STS client that signs with the new key.
   * @default - new STSClient({ credentials }) (region and AWS_ENDPOINT_URL as the SDK resolves them)
   */
  readonly stsClient?: StsClientFactory;
  /** @default iamDefaults.testTimeoutMs */
  readonly testTimeoutMs?: number;
  /** @default iamDefaults.testFirstDelayMs */
  readonly testFirstDelayMs?: number;
  /** @default iamDefaults.testMaxDelayMs */
  readonly testMaxDelayMs?: number;
}

const ms = (max: number) => z.int().check(z.gte(0), z.lte(max));
const optionsSchema = z
  .strictObject({
    iam: z.optional(z.custom<IAMClient | (() => IAMClient)>((v) => v instanceof IAMClient || typeof v === 'function')),
    stsClient: z.optional(z.custom<StsClientFactory>((v) => typeof v === 'function')),
    // A Lambda runs for at most 15 minutes.
    testTimeoutMs: z.optional(ms(900_000)),
    testFirstDelayMs: z.optional(ms(60_000).check(z.gte(1))),
    testMaxDelayMs: z.optional(ms(300_000).check(z.gte(1))),
  })
  .check(
    z.refine(
      (o) => (o.testFirstDelayMs ?? iamDefaults.testFirstDelayMs) <= (o.testMaxDelayMs ?? iamDefaults.testMaxDelayMs),
      { message: 'must not be above testMaxDelayMs', path: ['testFirstDelayMs'] },
    ),
  );

function validateOptions(options: IamKindOptions): IamKindOptions {
  const parsed = optionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new ConfigurationError(`iam rotation: option '${issue?.path.join('.') || '(options)'}' is invalid: ${issue?.message}`);
}

/** Reads the kind's options from the function's environment (IAM_TEST_TIMEOUT_MS, the contract's setting). */
export function readIamOptions(env: Readonly<Record<string, string | undefined>>): IamKindOptions {
  if (!env[settings.iamTestTimeoutMs.name]) return {};
  return { testTimeoutMs: readSetting(settings.iamTestTimeoutMs, env, 'iam rotation') };
}

function where(ctx: KindContext): string {
  return `secret ${ctx.secretArn}`;
}

/** Lists the user's keys, turning "no such user" into an error that says so. */
async function listKeys(keys: AccessKeys, ctx: KindContext): Promise<AccessKeyInfo[]> {
  try {
    return await keys.list();
  } catch (err) {
    if (err instanceof NoSuchEntityException) {
      throw new RotationStepError(`${where(ctx)}: IAM user ${JSON.stringify(keys.username)} does not exist`, {
        cause: err,
      });
    }
    throw err;
  }
}

const date = (d: Date | undefined) => d?.toISOString() ?? 'an unknown time';

/**
 * An old value (the leaked one an emergency revokes, the AWSPREVIOUS one the retire run retires)
 * is a version of the secret, and a version can be written by hand: it must not lead the
 * emergency or retire function (either may act on the keys of every Rotor-managed user) to
 * another user's key. Refuses a value for another user than AWSCURRENT's. `what` names the
 * value in the message; the message names users and never a key's secret.
 */
function refuseAnotherUser(old: IamSecret, current: IamSecret, what: 'leaked value' | 'AWSPREVIOUS value', ctx: KindContext): void {
  if (old.username !== current.username) {
    throw new UnsafeRotationError(
      `${where(ctx)}: the ${what} names IAM user ${JSON.stringify(old.username)}, not the secret's user ` +
        `${JSON.stringify(current.username)}; refusing to touch another user's key`,
    );
  }
}

/**
 * What making room for the new key takes, worked out without changing anything (createSecret
 * carries it out, the preflight reports it): the keys Rotor created for this secret that no
 * version holds (an interrupted createSecret's orphans, deleted), then, when the user would
 * still hold two keys, the one AWSPREVIOUS holds (deleted), or the key that blocks the rotation
 * (a key Rotor does not know: never deleted). The AWSCURRENT key is never part of it.
 */
export interface RoomPlan {
  /** The user's keys as listed. */
  readonly held: readonly AccessKeyInfo[];
  /** Whether the AWSCURRENT key is on the user (the rotation replaces it either way). */
  readonly currentOnUser: boolean;
  readonly orphans: readonly AccessKeyInfo[];
  /** Keys of the user that no version holds and Rotor did not create for this secret. */
  readonly strangers: readonly AccessKeyInfo[];
  /** The AWSPREVIOUS key, when it must be deleted to make room. */
  readonly deletePrevious?: AccessKeyInfo;
  readonly previousVersionId?: string;
  /** Set when there is no room and nothing Rotor may delete would make it. */
  readonly blockedBy?: { readonly key?: AccessKeyInfo; readonly held: number };
}

export async function planRoom(
  current: IamSecret,
  keys: AccessKeys,
  ctx: Pick<CreateContext<IamSecret>, 'previous' | 'secretArn'> & KindContext,
): Promise<RoomPlan> {
  const held = await listKeys(keys, ctx);
  const currentOnUser = held.some((k) => k.accessKeyId === current.accessKeyId);
  const others = held.filter((k) => k.accessKeyId !== current.accessKeyId);
  if (others.length === 0) return { held, currentOnUser, orphans: [], strangers: [] };

  const previous = await ctx.previous();
  const previousKeyId =
    previous && previous.value.username === current.username && previous.value.accessKeyId !== current.accessKeyId
      ? previous.value.accessKeyId
      : undefined;
  const unknown = others.filter((k) => k.accessKeyId !== previousKeyId);
  const orphans: AccessKeyInfo[] = [];
  const strangers: AccessKeyInfo[] = [];
  if (unknown.length > 0) {
    const markers = await keys.markers();
    const ours = keyMarker(ctx.secretArn);
    for (const key of unknown) (markers.get(key.accessKeyId) === ours ? orphans : strangers).push(key);
  }
  const left = held.filter((k) => !orphans.includes(k));
  const base = { held, currentOnUser, orphans, strangers, previousVersionId: previous?.versionId };
  if (left.length < MAX_KEYS_PER_USER) return base;
  const previousKey = left.find((k) => k.accessKeyId === previousKeyId);
  if (!previousKey) return { ...base, blockedBy: { key: strangers[0], held: left.length } };
  return { ...base, deletePrevious: previousKey };
}

/**
 * Makes room for the new key (planRoom). Keeps the AWSCURRENT key whatever happens; deletes keys
 * Rotor created for this secret that no version holds (an interrupted createSecret's orphans);
 * when the user still holds two keys, deletes the one AWSPREVIOUS holds. A key Rotor does not
 * know is never deleted.
 */
async function makeRoom(current: IamSecret, keys: AccessKeys, ctx: CreateContext<IamSecret>): Promise<void> {
  const plan = await planRoom(current, keys, ctx);
  if (!plan.currentOnUser) {
    ctx.logger.warn('the AWSCURRENT access key does not exist on the user; the rotation replaces it', {
      accessKeyId: current.accessKeyId,
    });
  }
  for (const key of plan.orphans) {
    await keys.delete(key.accessKeyId);
    ctx.logger.warn('deleted an access key an interrupted createSecret had created but not stored', {
      accessKeyId: key.accessKeyId,
      createdAt: date(key.createDate),
    });
  }
  if (plan.blockedBy) {
    const stranger = plan.blockedBy.key;
    throw new UnsafeRotationError(
      `${where(ctx)}: IAM user ${JSON.stringify(current.username)} already holds ${plan.blockedBy.held} access keys and ` +
        `key ${stranger?.accessKeyId ?? '(unknown)'} (created ${date(stranger?.createDate)}) is in no version of the secret ` +
        `and was not created by Rotor for it; Rotor never deletes a key it does not know. ` +
        `Delete that key (or make it the secret's AWSPREVIOUS) and retry`,
    );
  }
  const previousKey = plan.deletePrevious;
  if (!previousKey) {
    for (const key of plan.strangers) {
      ctx.logger.warn('the user holds an access key no version of the secret holds; left alone', {
        accessKeyId: key.accessKeyId,
      });
    }
    return;
  }
  if (previousKey.status === KeyStatus.ACTIVE) {
    ctx.logger.warn(
      'the previous access key is still active: this rotation came before its grace window ended ' +
        '(or no retire schedule deactivated it) and cuts that window short',
      { accessKeyId: previousKey.accessKeyId, previousVersionId: plan.previousVersionId },
    );
  }
  await keys.delete(previousKey.accessKeyId);
  ctx.logger.info('deleted the previous access key', {
    accessKeyId: previousKey.accessKeyId,
    previousVersionId: plan.previousVersionId,
  });
}

/** Checks through IAM that a key exists on the user and is Active (moto lets inactive keys sign). */
async function requireActive(key: IamSecret, keys: AccessKeys, ctx: KindContext, label: string): Promise<void> {
  const found = (await listKeys(keys, ctx)).find((k) => k.accessKeyId === key.accessKeyId);
  if (!found) {
    throw new RotationStepError(
      `${where(ctx)}: the ${label} access key ${key.accessKeyId} does not exist on IAM user ${JSON.stringify(key.username)}`,
    );
  }
  if (found.status !== KeyStatus.ACTIVE) {
    throw new RotationStepError(
      `${where(ctx)}: the ${label} access key ${key.accessKeyId} is ${found.status}; Rotor does not reactivate a key somebody deactivated`,
    );
  }
}

/**
 * The IAM access key kind: a new key per rotation, dual-active with the previous one for a
 * grace window (retire deactivates it, the next rotation deletes it).
 */
export function createIamKind(
  options: IamKindOptions | (() => IamKindOptions) = {},
): RotationKind<IamSecret> & UsageEvidence<IamSecret> {
  // Options given as a function (read from the environment) are read on first use, so that a
  // bad setting fails a step with a logged error rather than the cold start.
  let resolved: IamKindOptions | undefined = typeof options === 'function' ? undefined : validateOptions(options);
  const opts = (): IamKindOptions => (resolved ??= validateOptions((options as () => IamKindOptions)()));
  let client: IAMClient | undefined;
  const iam = (): IAMClient => {
    const given = opts().iam;
    return (client ??= typeof given === 'function' ? given() : (given ?? new IAMClient({})));
  };
  const backoff = () => ({
    timeoutMs: opts().testTimeoutMs ?? iamDefaults.testTimeoutMs,
    firstDelayMs: opts().testFirstDelayMs ?? iamDefaults.testFirstDelayMs,
    maxDelayMs: opts().testMaxDelayMs ?? iamDefaults.testMaxDelayMs,
  });
  const stsClient = (): StsClientFactory => opts().stsClient ?? defaultStsClientFactory;

  return {
    name: Kinds.IAM,
    // One user whose two keys overlap: dual-active by nature, without a second login.
    strategies: KIND_TRAITS.iam.strategies,
    parse: parseIamSecret,
    sensitive: (secret) => [secret.secretAccessKey],
    leakIdentity: (secret) => secret.accessKeyId,

    // createSecret creates an access key: the engine claims the token first (one key per rotation).
    issuedId: (secret) => secret.accessKeyId,
    graceHours: (secret) => secret.graceperiod,

    async create(current: IamSecret, ctx: CreateContext<IamSecret>): Promise<IamSecret> {
      const keys = new AccessKeys(iam(), current.username);
      await makeRoom(current, keys, ctx);
      const created = await keys.create();
      ctx.redact(created.secretAccessKey);
      try {
        await keys.mark(created.accessKeyId, keyMarker(ctx.secretArn));
      } catch (err) {
        // An unmarked key would block the retry: take it back now.
        await keys.delete(created.accessKeyId).catch((cleanup: unknown) => {
          ctx.logger.error('could not delete the new access key after marking it failed', {
            accessKeyId: created.accessKeyId,
            error: (cleanup as Error).name,
          });
        });
        throw new RotationStepError(`${where(ctx)}: could not mark the new access key as Rotor's`, { cause: err });
      }
      ctx.logger.info('created a new access key', { accessKeyId: created.accessKeyId });
      return { ...current, accessKeyId: created.accessKeyId, secretAccessKey: created.secretAccessKey };
    },

    async set(pending: IamSecret, ctx: SetContext<IamSecret>): Promise<void> {
      if (pending.username !== ctx.current.value.username) {
        throw new UnsafeRotationError(
          `${where(ctx)}: username differs between AWSCURRENT and AWSPENDING; IAM rotation refuses to change it`,
        );
      }
      // The key is live from the moment it is created: only check that it still is.
      await requireActive(pending, new AccessKeys(iam(), pending.username), ctx, 'pending');
    },

    async test(pending: IamSecret, ctx: TestContext): Promise<void> {
      let identity;
      try {
        identity = await callerIdentity(pending, backoff(), { stsClient: stsClient(), onAttempt: () => ctx.recordLogin() });
      } catch (err) {
        const reason = err instanceof KeyNotAcceptedError ? err.message : `STS refused it: ${(err as Error).message}`;
        throw new RotationStepError(`${where(ctx)}: the pending access key ${pending.accessKeyId} does not work: ${reason}`, {
          cause: err,
        });
      }
      if (userNameOfArn(identity.arn) !== pending.username) {
        throw new RotationStepError(
          `${where(ctx)}: the pending access key signs in as ${identity.arn}, not as IAM user ${JSON.stringify(pending.username)}`,
        );
      }
      await requireActive(pending, new AccessKeys(iam(), pending.username), ctx, 'pending');
      ctx.logger.info('the new access key works', {
        accessKeyId: pending.accessKeyId,
        stsAttempts: identity.attempts,
        stsMs: identity.elapsedMs,
      });
    },

    // The retire run's evidence: an active previous key IAM saw used after the new key took over
    // is still held by a consumer (lambdas/retire/evidence.ts weighs it). Nothing to weigh for a
    // key already deleted or inactive.
    async lastUse(previous: IamSecret, ctx: RetireContext<IamSecret>) {
      // Checked before asking IAM anything about the key (an in-use verdict would announce it).
      if (ctx.current) refuseAnotherUser(previous, ctx.current.value, 'AWSPREVIOUS value', ctx);
      const keys = new AccessKeys(iam(), previous.username);
      const found = (await keys.listOrNone()).find((k) => k.accessKeyId === previous.accessKeyId);
      if (found?.status !== KeyStatus.ACTIVE) return undefined;
      const used = await keys.lastUsed(previous.accessKeyId);
      if (!used) return undefined;
      ctx.logger.info('asked IAM when the previous access key was last used', {
        accessKeyId: previous.accessKeyId,
        lastUsedAt: used.at?.toISOString() ?? 'never',
        lastUsedService: used.service,
        lastUsedRegion: used.region,
      });
      return { credentialId: previous.accessKeyId, ...used };
    },

    async retire(previous: IamSecret, ctx: RetireContext<IamSecret>): Promise<void> {
      if (!ctx.current) {
        throw new UnsafeRotationError(
          `${where(ctx)}: no AWSCURRENT to check the AWSPREVIOUS value against; refusing to touch its key`,
        );
      }
      refuseAnotherUser(previous, ctx.current.value, 'AWSPREVIOUS value', ctx);
      // Listed on AWSCURRENT's user: a key id of another user's is not found there, and nothing is done to it.
      const keys = new AccessKeys(iam(), previous.username);
      const found = (await keys.listOrNone()).find((k) => k.accessKeyId === previous.accessKeyId);
      if (!found) {
        ctx.logger.info('the previous access key is not on the user (already deleted): nothing to retire', { accessKeyId: previous.accessKeyId });
        return;
      }
      if (found.status !== KeyStatus.ACTIVE) {
        ctx.logger.info('the previous access key is already inactive', { accessKeyId: previous.accessKeyId });
        return;
      }
      await keys.setStatus(previous.accessKeyId, KeyStatus.INACTIVE);
      ctx.logger.info('deactivated the previous access key', { accessKeyId: previous.accessKeyId });
    },

    async revoke(leaked: IamSecret, ctx: RevokeContext<IamSecret>): Promise<void> {
      // The leaked value must not lead the emergency function to another user's key.
      if (ctx.current) refuseAnotherUser(leaked, ctx.current.value, 'leaked value', ctx);
      const keys = new AccessKeys(iam(), leaked.username);
      // Deactivate first: a key that cannot sign is harmless even if the delete fails.
      const existed = await keys.setStatus(leaked.accessKeyId, KeyStatus.INACTIVE);
      const deleted = existed ? await keys.delete(leaked.accessKeyId) : false;
      ctx.logger.info(existed ? 'revoked the leaked access key' : 'the leaked access key was already deleted', {
        accessKeyId: leaked.accessKeyId,
        deactivated: existed,
        deleted,
      });
    },
  };
}

/** The IAM access key kind as deployed (IAM_TEST_TIMEOUT_MS bounds testSecret's STS retries). */
export const iamKind = createIamKind(() => readIamOptions(process.env));
