import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { ProviderError, ProviderFailures } from '../lambdas/api-token/errors.js';
import { runStep } from '../lambdas/core/engine.js';
import {
  ConfigurationError,
  InvalidEventError,
  RetireError,
  RotationStateError,
  RotationStepError,
  RotorError,
  SecretFormatError,
  UnsafeRotationError,
} from '../lambdas/core/errors.js';
import { Redactor, REDACTED } from '../lambdas/core/redact.js';
import { RotationCache } from '../lambdas/core/rotationCache.js';
import type { RotationKind } from '../lambdas/core/types.js';
import { testPassword } from '../bin/local/postgres.js';

describe('RotorError.masked', () => {
  it('keeps the class of every Rotor error and masks its message, stack and causes', () => {
    // Prepare
    const secret = testPassword();
    const redactor = new Redactor();
    redactor.add(secret);
    const classes = [
      RotorError,
      InvalidEventError,
      RotationStateError,
      SecretFormatError,
      ConfigurationError,
      RotationStepError,
      UnsafeRotationError,
      RetireError,
    ];
    for (const ErrorClass of classes) {
      const original = new ErrorClass(`failed with ${secret}`, { cause: new Error(`driver said ${secret}`) });
      // Act
      const masked = original.masked(redactor);
      // Assess
      expect(masked).toBeInstanceOf(ErrorClass);
      expect(masked.constructor).toBe(ErrorClass);
      expect(masked.name).toBe(original.name);
      expect(masked.message).toBe(`failed with ${REDACTED}`);
      expect((masked.cause as Error).message).toBe(`driver said ${REDACTED}`);
      expect(masked.stack).not.toContain(secret);
    }
  });

  it('keeps the status and failure of a ProviderError', () => {
    const secret = testPassword();
    const redactor = new Redactor();
    redactor.add(secret);
    const original = new ProviderError(`issue at provider: 429 for ${secret}`, { failure: ProviderFailures.RATE_LIMITED, status: 429 });
    const masked = original.masked(redactor);
    expect(masked).toBeInstanceOf(ProviderError);
    expect(masked).toMatchObject({ name: 'ProviderError', failure: 'rate-limited', status: 429, message: `issue at provider: 429 for ${REDACTED}` });
  });
});

describe('runStep', () => {
  it("masks a kind's ProviderError on the way out and keeps its status and failure", async () => {
    // Prepare: a secret whose token is staged AWSPENDING, and a kind whose test fails at the provider.
    const password = testPassword();
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:unit-masked-AbCdEf';
    const sm = mockClient(SecretsManagerClient);
    sm.on(DescribeSecretCommand).resolves({
      ARN: arn,
      Name: 'unit-masked',
      RotationEnabled: true,
      VersionIdsToStages: { current: ['AWSCURRENT'], token: ['AWSPENDING'] },
    });
    sm.on(GetSecretValueCommand).resolves({ ARN: arn, VersionId: 'token', SecretString: JSON.stringify({ password }) });
    const kind: RotationKind<{ password: string }> = {
      name: 'unit',
      strategies: ['single-user'],
      parse: (value) => value as { password: string },
      sensitive: (value) => [value.password],
      create: async (current) => current,
      set: async () => undefined,
      test: async (pending) => {
        throw new ProviderError(`verify refused token ${pending.password}`, { failure: ProviderFailures.REFUSED, status: 401 });
      },
    };
    try {
      // Act
      const outcome = runStep(
        kind,
        { SecretId: arn, ClientRequestToken: 'token', Step: 'testSecret' },
        {
          client: new SecretsManagerClient({ region: 'us-east-1' }),
          logger: new Logger({ serviceName: 'rotor', logLevel: 'SILENT' }),
          metrics: new Metrics({ namespace: 'Rotor', serviceName: 'rotor' }),
          settings: () => ({ strategy: 'single-user', passwordPolicy: { length: 32, excludeCharacters: '' } }),
          cache: new RotationCache(),
          descriptionReuseMs: 0,
        },
      );
      // Assess
      const err = await outcome.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ failure: 'refused', status: 401, message: `verify refused token ${REDACTED}` });
      expect(JSON.stringify({ m: (err as Error).message, s: (err as Error).stack })).not.toContain(password);
    } finally {
      sm.restore();
    }
  });
});
