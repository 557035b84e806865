import { noteCredential } from '../../bin/local/hygiene.js';
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  IAMClient,
  ListAccessKeysCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { SecretsManagerClient, TagResourceCommand } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { randomBytes } from 'node:crypto';
import { beforeAll } from 'vitest';
import { createRotationHandler } from '../../lambdas/core/handler.js';
import { createRetireHandler, type RetireKinds } from '../../lambdas/retire/retire.js';
import { RotorTags } from '../../lambdas/core/types.js';
import { createIamKind, type IamKindOptions } from '../../lambdas/iam/iamKind.js';
import type { Handler } from '../../bin/local/harness.js';
import { errorText } from './logCapture.js';
import { useRotationSuite } from './rotationSuite.js';

import { BOOTSTRAP_CALLS, bootstrapAdmin, region, type KeyPair } from '../../bin/local/awsAdmin.js';

export { bootstrapAdmin, type KeyPair };
/** Calls moto serves before it starts checking signatures: CreateUser, PutUserPolicy, CreateAccessKey. */
export const IAM_BOOTSTRAP_CALLS = BOOTSTRAP_CALLS;

/**
 * Makes an existing client sign with `key`. The shared rotation suite builds its Secrets Manager
 * client with dummy credentials; the SDK reads `config.credentials` on every request.
 */
export function signWith(client: SecretsManagerClient, key: KeyPair): void {
  (client.config as { credentials: unknown }).credentials = async () => ({ ...key });
}

/**
 * A Secrets Manager client whose PutSecretValue of the pending value (the one staged AWSPENDING)
 * fails once, as if the function died just before it. The error is a client fault, so the
 * engine does not retry it within the invocation (a dead function retries nothing).
 */
export function failingPutOnce(endpoint: string, key: KeyPair): SecretsManagerClient & { failures: number } {
  const client = Object.assign(new SecretsManagerClient({ endpoint, region, credentials: key }), { failures: 0 });
  let armed = true;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { VersionStages?: string[] };
      if (armed && context.commandName === 'PutSecretValueCommand' && input.VersionStages?.includes('AWSPENDING')) {
        armed = false;
        client.failures++;
        throw Object.assign(new Error('injected failure: the function stopped before PutSecretValue'), {
          name: 'InjectedFailure',
          $fault: 'client',
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'failPutOnce' },
  );
  return client;
}

/** The ARN STS answers for a key, or the name of the error it refuses it with. */
export async function callerArn(key: KeyPair): Promise<string> {
  const sts = new STSClient({ region, credentials: key, maxAttempts: 1 });
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn ?? '(no arn)';
  } catch (err) {
    return `refused: ${(err as Error).name}`;
  } finally {
    sts.destroy();
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * The fixture of the IAM and retire tests: the rotation suite on a moto server that checks
 * signatures (so STS really refuses unknown keys), an administrator bootstrapped in the free
 * calls, and helpers that arrange users, keys and secrets with that administrator's key.
 */
export function useIamSuite() {
  const suite = useRotationSuite({ motoInitialNoAuth: IAM_BOOTSTRAP_CALLS });
  const state = { admin: undefined as unknown as KeyPair, iam: undefined as unknown as IAMClient, sm: undefined as unknown as SecretsManagerClient };

  beforeAll(async () => {
    state.admin = await bootstrapAdmin(suite.moto.endpoint);
    signWith(suite.player.client, state.admin);
    state.iam = new IAMClient({ endpoint: suite.moto.endpoint, region, credentials: state.admin });
    state.sm = new SecretsManagerClient({ endpoint: suite.moto.endpoint, region, credentials: state.admin });
  });

  const fixture = {
    suite,
    get admin() {
      return state.admin;
    },
    get iam() {
      return state.iam;
    },
    get sm() {
      return state.sm;
    },

    /** The IAM kind, with the administrator's IAM client and any test options. */
    kind(options: Omit<IamKindOptions, 'iam'> = {}) {
      return createIamKind({ iam: state.iam, ...options });
    },

    /** A rotation handler as deployed, signing with the administrator; what it throws is captured as logged. */
    handler(options: Omit<IamKindOptions, 'iam'> & { client?: SecretsManagerClient } = {}): Handler {
      const { client, ...kindOptions } = options;
      // A fresh handler is a cold function instance: nothing cached from an earlier attempt.
      suite.sensitive(state.admin.secretAccessKey);
      return suite.captured(createRotationHandler(fixture.kind(kindOptions), { client: client ?? state.sm, env: { ...suite.fingerprintKey.env } }));
    },

    /**
     * The retire handler for the given kinds, with an injected clock; `options` as the deployed
     * function gets them (its environment: RETIRE_IN_USE_*, RETIRE_QUIET_HOURS) and a notification
     * target (an SNS client signing with the administrator).
     */
    retireHandler(kinds: RetireKinds, now: () => Date, options: Pick<Parameters<typeof createRetireHandler>[1] & {}, 'env' | 'notify'> = {}) {
      suite.sensitive(state.admin.secretAccessKey);
      const handler = createRetireHandler(kinds, { client: state.sm, now, env: {}, ...options });
      return async (...args: Parameters<typeof handler>) => {
        try {
          return await handler(...args);
        } catch (err) {
          suite.logs.note(errorText(err));
          throw err;
        }
      };
    },

    async createUser(prefix = 'app'): Promise<string> {
      const name = uniqueName(prefix);
      await state.iam.send(new CreateUserCommand({ UserName: name }));
      return name;
    },

    async createKey(username: string): Promise<KeyPair> {
      const key = (await state.iam.send(new CreateAccessKeyCommand({ UserName: username }))).AccessKey!;
      suite.sensitive(key.SecretAccessKey!);
      noteCredential(key.SecretAccessKey);
      return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
    },

    async keys(username: string): Promise<Record<string, string>> {
      const out = await state.iam.send(new ListAccessKeysCommand({ UserName: username }));
      return Object.fromEntries((out.AccessKeyMetadata ?? []).map((k) => [k.AccessKeyId!, k.Status!]));
    },

    async setStatus(username: string, accessKeyId: string, status: 'Active' | 'Inactive'): Promise<void> {
      await state.iam.send(new UpdateAccessKeyCommand({ UserName: username, AccessKeyId: accessKeyId, Status: status }));
    },

    async deleteKey(username: string, accessKeyId: string): Promise<void> {
      await state.iam.send(new DeleteAccessKeyCommand({ UserName: username, AccessKeyId: accessKeyId }));
    },

    /** A user with one key and a secret for it, tagged as Rotor's IAM kind unless `tags` says otherwise. */
    async arrange(opts: { extra?: Record<string, unknown>; tags?: Record<string, string> | null } = {}) {
      const username = await fixture.createUser();
      const key = await fixture.createKey(username);
      const arn = await suite.secret(uniqueName('iam/secret'), { username, ...key, ...opts.extra });
      const tags = opts.tags === undefined ? { [RotorTags.KIND]: 'iam' } : opts.tags;
      if (tags) {
        await state.sm.send(
          new TagResourceCommand({ SecretId: arn, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }),
        );
      }
      return { arn, username, key };
    },

    /** The secret's value at a stage. */
    async value(arn: string, stage = 'AWSCURRENT') {
      return suite.player.value<{ username: string; accessKeyId: string; secretAccessKey: string; graceperiod?: number }>(
        arn,
        stage,
      );
    },
  };
  return fixture;
}
