import type { Logger } from '@aws-lambda-powertools/logger';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CheckStatuses,
  PREFLIGHT_EVENT_TAG,
  PreflightChecks,
  preflightEventSchema,
  settings as contract,
  type PreflightCheck,
  type PreflightReport,
} from '../contract/index.js';
import { ConfigurationError, RotorError } from './errors.js';
import { Redactor } from './redact.js';
import { readSecretValue } from './secretValue.js';
import { SecretsApi, toDescription, versionWithStage } from './secretsApi.js';
import type { Settings } from './settings.js';
import { Stages, type PreflightContext, type PreflightFinding, type RotationKind, type SecretVersion } from './types.js';

/** What a preflight needs of the handler: the same client, logger and settings a step uses. */
export interface PreflightDeps {
  readonly client: SecretsManagerClient;
  readonly logger: Logger;
  readonly settings: () => Settings;
}

/** The parts of the Lambda context a preflight uses: which function runs it. */
export interface PreflightInvocation {
  readonly invokedFunctionArn?: string;
}

/** The token kinds see in their context during a preflight: no rotation, no version. */
export const PREFLIGHT_TOKEN = 'rotor-preflight';

/**
 * `arn:aws:lambda:<region>:<account>:function:<name>` without a version or alias qualifier: a
 * secret names its rotation function either way, and an invocation may come through an alias.
 */
export function unqualifiedFunctionArn(arn: string | undefined): string | undefined {
  if (!arn) return undefined;
  const parts = arn.split(':');
  if (parts.length < 7 || parts[0] !== 'arn' || parts[2] !== 'lambda' || parts[5] !== 'function') return undefined;
  return parts.slice(0, 7).join(':');
}

/** What went wrong with an AWS call, in words an operator acts on (name and the service's message, masked). */
function awsProblem(err: unknown, redactor: Redactor): string {
  const safe = redactor.error(err);
  return `${safe.name}: ${safe.message}`;
}

const isKmsFailure = (err: unknown) => {
  const e = err as { name?: string; message?: string };
  return e.name === 'DecryptionFailure' || e.name === 'KMSAccessDeniedException' || /\bkms\b|decrypt/i.test(e.message ?? '');
};

/**
 * A dry run of a rotation, in the rotation function itself, that changes nothing: no
 * PutSecretValue, no label moved, no tag written (not even the last-failure tag), nothing changed
 * on the target. The engine's own checks (the secret is readable, so KMS decrypt works; its
 * rotation function is this function; the function's settings; the password settings against
 * what the kind's consumers accept) come first; then the kind's `preflight`, which follows the
 * same trust rules as a rotation (its own connection and host checks). A secret whose rotation
 * function is not this function is refused before its value is read. Every detail is masked with
 * the values seen, like the engine's errors.
 */
export async function runPreflight<S>(
  kind: RotationKind<S>,
  rawEvent: unknown,
  deps: PreflightDeps,
  invocation: PreflightInvocation = {},
): Promise<PreflightReport> {
  const started = Date.now();
  const redactor = new Redactor();
  const api = new SecretsApi(deps.client);
  const checks: PreflightCheck[] = [];
  let logins = 0;
  const add = (check: string, status: PreflightCheck['status'], detail: string, fix?: string) => {
    checks.push({ check, status, detail: redactor.text(detail), ...(fix !== undefined ? { fix: redactor.text(fix) } : {}) });
  };
  const skipRest = (names: readonly string[], because: string) => {
    for (const name of names) add(name, CheckStatuses.SKIPPED, `not checked: ${because}`);
  };
  let secretId = '(unknown)';
  let secretArn: string | undefined;
  let strategy: string | undefined;

  const finish = (): PreflightReport => {
    const report: PreflightReport = {
      rotor: PREFLIGHT_EVENT_TAG,
      secretId,
      ...(secretArn !== undefined ? { secretArn } : {}),
      kind: kind.name,
      ...(strategy !== undefined ? { strategy } : {}),
      ok: !checks.some((c) => c.status === CheckStatuses.PROBLEM),
      checks,
      secretsManagerCalls: api.calls,
      logins,
      durationMs: Date.now() - started,
    };
    deps.logger.info('preflight finished', {
      ok: report.ok,
      problems: checks.filter((c) => c.status === CheckStatuses.PROBLEM).map((c) => c.check),
      secretsManagerCalls: api.calls,
      logins,
      durationMs: report.durationMs,
    });
    return report;
  };

  const parsedEvent = preflightEventSchema.safeParse(rawEvent);
  if (!parsedEvent.success) {
    const issue = parsedEvent.error.issues[0];
    add(
      PreflightChecks.EVENT,
      CheckStatuses.PROBLEM,
      `the preflight event is malformed: field '${issue?.path.join('.') || '(event)'}' ${issue?.message ?? 'is invalid'}`,
      `send { "rotor": "${PREFLIGHT_EVENT_TAG}", "secretId": "<secret name or ARN>" } (rotor preflight does)`,
    );
    return finish();
  }
  secretId = parsedEvent.data.secretId;
  deps.logger.appendKeys({ preflight: true, secretId, kind: kind.name });
  try {
    deps.logger.info('preflight started');
    // 1. The secret, as this function sees it: DescribeSecret (no value).
    let described;
    try {
      described = await api.describeSecret(secretId);
    } catch (err) {
      const name = (err as Error).name;
      add(
        PreflightChecks.SECRET_DESCRIBED,
        CheckStatuses.PROBLEM,
        name === 'ResourceNotFoundException'
          ? `secret ${secretId} does not exist in this function's account and region`
          : `this function cannot describe secret ${secretId}: ${awsProblem(err, redactor)}`,
        name === 'ResourceNotFoundException'
          ? 'check the name or ARN and the region'
          : 'a rotation function may read only the secrets it was deployed for: deploy the secret with this function (its construct grants secretsmanager:DescribeSecret on it)',
      );
      return finish();
    }
    const description = toDescription(described, secretId);
    secretArn = description.arn;
    add(PreflightChecks.SECRET_DESCRIBED, CheckStatuses.OK, `secret ${description.name} (${description.arn})`);

    // 2. Refuse a secret this function does not rotate: nothing is read of it, nothing is tried.
    const self = unqualifiedFunctionArn(invocation.invokedFunctionArn);
    const configured = unqualifiedFunctionArn(described.RotationLambdaARN) ?? described.RotationLambdaARN;
    const rest = [
      PreflightChecks.ROTATION_ENABLED,
      PreflightChecks.NO_ROTATION_IN_PROGRESS,
      PreflightChecks.SETTINGS,
      PreflightChecks.SECRET_READABLE,
      PreflightChecks.SECRET_FORMAT,
      PreflightChecks.PASSWORD_POLICY,
      PreflightChecks.KIND,
    ];
    if (!configured || !self || configured !== self) {
      add(
        PreflightChecks.ROTATION_FUNCTION,
        CheckStatuses.PROBLEM,
        !configured
          ? `secret ${description.name} has no rotation function; this function preflights only secrets it rotates: refused`
          : !self
            ? 'this invocation does not say which function runs it (no invokedFunctionArn): refused'
            : `secret ${description.name} is rotated by ${configured}, not by this function (${self}): refused`,
        !configured
          ? "turn rotation on with this function (deploy the secret's Rotor construct, or aws secretsmanager rotate-secret --rotation-lambda-arn), then run the preflight again"
          : `run the preflight through the secret's own rotation function (rotor preflight ${description.name} does)`,
      );
      skipRest(rest, 'the secret is not rotated by this function');
      return finish();
    }
    add(PreflightChecks.ROTATION_FUNCTION, CheckStatuses.OK, `rotated by this function (${self})`);
    if (description.rotationEnabled) add(PreflightChecks.ROTATION_ENABLED, CheckStatuses.OK, 'rotation is enabled');
    else {
      add(
        PreflightChecks.ROTATION_ENABLED,
        CheckStatuses.PROBLEM,
        'rotation is not enabled: Secrets Manager will not call this function on a schedule, and every step refuses the secret',
        'enable rotation with a schedule (the construct does; or aws secretsmanager rotate-secret --rotation-rules ...)',
      );
    }
    const currentId = versionWithStage(description, Stages.CURRENT);
    const pendingId = versionWithStage(description, Stages.PENDING);
    if (pendingId && pendingId !== currentId) {
      add(
        PreflightChecks.NO_ROTATION_IN_PROGRESS,
        CheckStatuses.PROBLEM,
        `a rotation is in progress or stuck: version ${pendingId} is staged AWSPENDING`,
        'let it finish (rotor status shows it), or cancel it (aws secretsmanager cancel-rotate-secret) and remove the AWSPENDING label',
      );
    } else {
      add(PreflightChecks.NO_ROTATION_IN_PROGRESS, CheckStatuses.OK, 'no version is staged AWSPENDING apart from AWSCURRENT');
    }

    // 3. The function's settings (strategy, password policy) as a step reads them.
    let settings: Settings | undefined;
    try {
      settings = deps.settings();
      strategy = settings.strategy;
      add(
        PreflightChecks.SETTINGS,
        CheckStatuses.OK,
        `strategy ${settings.strategy}` +
          (kind.passwordPolicy
            ? `; passwords of ${settings.passwordPolicy.length} characters excluding ${JSON.stringify(settings.passwordPolicy.excludeCharacters)}`
            : ''),
      );
    } catch (err) {
      add(
        PreflightChecks.SETTINGS,
        CheckStatuses.PROBLEM,
        redactor.error(err).message,
        "correct the function's environment variable named there (through the construct's props, which write it)",
      );
    }

    // 4. The value: readable (Secrets Manager decrypts it with the secret's KMS key for this function) and well-formed.
    let current: SecretVersion<S> | undefined;
    if (!currentId) {
      add(PreflightChecks.SECRET_READABLE, CheckStatuses.PROBLEM, 'no version is staged AWSCURRENT', 'store the secret\'s value (aws secretsmanager put-secret-value)');
      skipRest([PreflightChecks.SECRET_FORMAT], 'no AWSCURRENT value');
    } else {
      let raw: string | undefined;
      let readFailed = false;
      try {
        raw = await api.getValue(description.arn, currentId, Stages.CURRENT);
      } catch (err) {
        readFailed = true;
        const kms = isKmsFailure(err);
        add(
          PreflightChecks.SECRET_READABLE,
          CheckStatuses.PROBLEM,
          `${kms ? 'decrypting' : 'reading'} the AWSCURRENT value failed: ${awsProblem(err, redactor)}`,
          kms
            ? "allow kms:Decrypt on the secret's KMS key to this function's role, with the condition kms:ViaService = secretsmanager.<region>.amazonaws.com (the construct grants it for the key it is given)"
            : "allow secretsmanager:GetSecretValue on this secret to this function's role (the construct grants it)",
        );
      }
      if (!readFailed && raw === undefined) {
        add(PreflightChecks.SECRET_READABLE, CheckStatuses.PROBLEM, `the AWSCURRENT version ${currentId} has no value`, 'store the secret\'s value (aws secretsmanager put-secret-value)');
      } else if (raw !== undefined) {
        add(PreflightChecks.SECRET_READABLE, CheckStatuses.OK, `AWSCURRENT (version ${currentId}) read and decrypted`);
        try {
          current = { versionId: currentId, value: readSecretValue(kind, raw, `secret ${description.arn} (AWSCURRENT)`, redactor) };
          add(PreflightChecks.SECRET_FORMAT, CheckStatuses.OK, `AWSCURRENT is a valid ${kind.name} secret`);
        } catch (err) {
          if (!(err instanceof RotorError)) throw err;
          add(PreflightChecks.SECRET_FORMAT, CheckStatuses.PROBLEM, redactor.error(err).message, 'correct the field named there in the secret\'s value (every field Rotor does not know is kept)');
        }
      }
      if (readFailed || raw === undefined) skipRest([PreflightChecks.SECRET_FORMAT], 'the value could not be read');
    }

    // 5. Passwords this function would make, against what the kind's consumers accept.
    let sample: string | undefined;
    if (kind.passwordPolicy && settings) {
      sample = await checkPasswords(kind.name, kind.passwordPolicy.excludeCharacters, settings, api, redactor, add);
    } else if (kind.passwordPolicy) {
      skipRest([PreflightChecks.PASSWORD_POLICY], 'the function settings are invalid');
    }

    // 6. The kind's own checks, from this function's network.
    if (!kind.preflight) {
      add(PreflightChecks.KIND, CheckStatuses.SKIPPED, `kind ${kind.name} has no checks of its own`);
    } else if (!settings || !current) {
      skipRest([PreflightChecks.KIND], !settings ? 'the function settings are invalid' : 'the AWSCURRENT value is not usable');
    } else {
      const ctx: PreflightContext<S> = {
        secretArn: description.arn,
        token: PREFLIGHT_TOKEN,
        strategy: settings.strategy,
        logger: deps.logger,
        recordLogin: () => void logins++,
        redact: (value) => redactor.add(value),
        current,
        passwordPolicy: settings.passwordPolicy,
        ...(sample !== undefined ? { samplePassword: sample } : {}),
        readSecret: async (id) => {
          const raw = await api.getValue(id, undefined, Stages.CURRENT);
          if (raw === undefined) throw new ConfigurationError(`secret ${id}: no AWSCURRENT value`);
          return readSecretValue(kind, raw, `secret ${id} (AWSCURRENT)`, redactor);
        },
        previous: async () => {
          const id = versionWithStage(description, Stages.PREVIOUS);
          if (!id) return undefined;
          const raw = await api.getValue(description.arn, id, Stages.PREVIOUS);
          return raw === undefined ? undefined : { versionId: id, value: readSecretValue(kind, raw, `secret ${description.arn} (AWSPREVIOUS)`, redactor) };
        },
      };
      let found: PreflightFinding[];
      try {
        found = await kind.preflight(current.value, ctx);
      } catch (err) {
        found = [
          {
            check: PreflightChecks.KIND,
            status: CheckStatuses.PROBLEM,
            detail: `the ${kind.name} checks failed: ${awsProblem(err, redactor)}`,
            fix: 'see the error: it is what the first rotation would hit',
          },
        ];
      }
      for (const f of found) add(f.check, f.status, f.detail, f.fix);
    }
    return finish();
  } finally {
    deps.logger.removeKeys(['preflight', 'secretId', 'kind']);
  }
}

/**
 * The password settings against the kind's consumers: every character the kind's own policy
 * excludes (AWS's rotation templates: the characters connection strings, URLs and shells do not
 * take in a password) must stay excluded; then one password is asked of GetRandomPassword with
 * the function's policy (which proves the function may call it) and checked for length and those
 * characters. The password is masked wherever it could appear and is never stored. Answers it,
 * for the kind's own checks (a server's password rules).
 */
async function checkPasswords(
  kindName: string,
  consumerExcluded: string,
  settings: Settings,
  api: SecretsApi,
  redactor: Redactor,
  add: (check: string, status: PreflightCheck['status'], detail: string, fix?: string) => void,
): Promise<string | undefined> {
  const policy = settings.passwordPolicy;
  const letThrough = [...new Set(consumerExcluded)].filter((c) => !policy.excludeCharacters.includes(c));
  if (letThrough.length > 0) {
    add(
      PreflightChecks.PASSWORD_POLICY,
      CheckStatuses.PROBLEM,
      `${contract.excludeCharacters.name} ${JSON.stringify(policy.excludeCharacters)} lets through ${JSON.stringify(letThrough.join(''))}, ` +
        `which consumers of ${kindName} secrets do not accept in a password (connection strings, URLs, shell and SQL quoting)`,
      `exclude them: ${contract.excludeCharacters.name} must contain ${JSON.stringify(consumerExcluded)} ` +
        `(the construct's excludeCharacters; leave it unset for the default)`,
    );
  } else {
    add(
      PreflightChecks.PASSWORD_POLICY,
      CheckStatuses.OK,
      `passwords of ${policy.length} characters, excluding every character ${kindName} consumers do not accept (${JSON.stringify(consumerExcluded)})`,
    );
  }
  let sample: string;
  try {
    sample = await api.randomPassword(policy);
    redactor.add(sample);
  } catch (err) {
    add(
      PreflightChecks.RANDOM_PASSWORD,
      CheckStatuses.PROBLEM,
      `GetRandomPassword with this function's policy failed: ${awsProblem(err, redactor)}`,
      /AccessDenied|NotAuthorized/.test((err as Error).name)
        ? "allow secretsmanager:GetRandomPassword (resource '*', the API has no resource) to this function's role"
        : `check ${contract.passwordLength.name} and ${contract.excludeCharacters.name}: every character class must keep some characters`,
    );
    return undefined;
  }
  const bad = [...new Set(sample)].filter((c) => consumerExcluded.includes(c));
  if (sample.length !== policy.length || bad.length > 0) {
    add(
      PreflightChecks.RANDOM_PASSWORD,
      CheckStatuses.PROBLEM,
      `GetRandomPassword answered a password of ${sample.length} characters (asked ${policy.length})` +
        (bad.length > 0 ? ` holding ${bad.length} character(s) ${kindName} consumers do not accept` : ''),
      `set ${contract.excludeCharacters.name} to include ${JSON.stringify(consumerExcluded)}`,
    );
  } else {
    add(PreflightChecks.RANDOM_PASSWORD, CheckStatuses.OK, `GetRandomPassword made a ${sample.length}-character password with none of those characters (not kept)`);
  }
  return sample;
}
