import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { looksLikePreflight, RotorMetrics, ServiceNames, type PreflightEvent, type PreflightReport } from '../contract/index.js';
import { runStep, type EngineDeps, type StepOutcome } from './engine.js';
import { runPreflight } from './preflight.js';
import { fingerprintKeySource } from './fingerprint.js';
import { cacheDefaults, RotationCache } from './rotationCache.js';
import { readSettings, type Settings } from './settings.js';
import type { RotationKind } from './types.js';

export const handlerDefaults = {
  serviceName: ServiceNames.ROTATION,
  metricsNamespace: RotorMetrics.NAMESPACE,
  /** testSecret reuses setSecret's DescribeSecret when it is at most this old. */
  descriptionReuseMs: 60_000,
} as const;

/**
 * A rotation function: a Secrets Manager step answers its StepOutcome; Rotor's own preflight
 * event (`{ "rotor": "preflight", "secretId": ... }`, lambdas/contract/preflight.ts) answers a
 * PreflightReport and changes nothing.
 */
export interface RotationHandler {
  (event: PreflightEvent, context: Context): Promise<PreflightReport>;
  (event: unknown, context: Context): Promise<StepOutcome>;
}

/**
 * Wires a kind into a Lambda handler: the engine's step function with Powertools' logger
 * (Lambda context in every line) and metrics (flushed after every invocation) as middy
 * middleware. Dependencies can be replaced, for tests and the sandbox.
 */
export function createRotationHandler<S>(
  kind: RotationKind<S>,
  overrides: Partial<EngineDeps> & { env?: NodeJS.ProcessEnv } = {},
): RotationHandler {
  const logger = overrides.logger ?? new Logger({ serviceName: handlerDefaults.serviceName });
  const metrics =
    overrides.metrics ??
    new Metrics({ namespace: handlerDefaults.metricsNamespace, serviceName: handlerDefaults.serviceName });
  let settings: Settings | undefined;
  const client = overrides.client ?? new SecretsManagerClient({});
  const deps: EngineDeps = {
    client,
    logger,
    metrics,
    // Read on first use so a bad setting fails the step with a logged error, not the cold start.
    settings: overrides.settings ?? (() => (settings ??= readSettings(overrides.env ?? process.env, kind))),
    cache: overrides.cache ?? new RotationCache(cacheDefaults),
    descriptionReuseMs: overrides.descriptionReuseMs ?? handlerDefaults.descriptionReuseMs,
    bounds: overrides.bounds,
    sleep: overrides.sleep,
    // ROTOR_FINGERPRINT_KEY_ARN: read at the first finishSecret of a kind with a leak identity, then kept.
    fingerprintKey: overrides.fingerprintKey ?? (kind.leakIdentity ? fingerprintKeySource(client, overrides.env ?? process.env, `${kind.name} rotation`) : undefined),
  };
  // A preflight is recognised before the step parsing: it runs no step and changes nothing.
  return middy(async (event: unknown, context: Context) =>
    looksLikePreflight(event) ? runPreflight(kind, event, deps, context) : runStep(kind, event, deps, context),
  )
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics)) as unknown as RotationHandler;
}
