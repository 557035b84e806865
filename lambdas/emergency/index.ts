import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { apiTokenKind } from '../api-token/index';
import { iamKind } from '../iam/index';
import { mysqlKind } from '../mysql/index';
import { postgresKind } from '../postgres/postgresKind';
import { handleLeakEvent, type EmergencyDeps, type EmergencyKinds, type EmergencyResult } from './emergency';
import { emergencyDefaults, type EventBridgeEvent } from './events';

/** Every kind the emergency handler can revoke, by its rotor:kind tag. */
export const emergencyKinds: EmergencyKinds = {
  postgres: postgresKind,
  mysql: mysqlKind,
  iam: iamKind,
  'api-token': apiTokenKind,
};

/**
 * The emergency Lambda: EventBridge delivers AWS Health credential exposures, GuardDuty IAM
 * credential findings and Rotor's "Secret Leak Detected" events. Environment: ROTOR_EVENT_SOURCE
 * (default 'rotor'), ROTOR_EVENT_BUS (default 'default'), ALARM_TOPIC_ARN (audit summary),
 * WAIT_TIMEOUT_MS (how long to wait for the rotation, default 240000).
 */
export function createEmergencyHandler(overrides: Partial<EmergencyDeps> = {}) {
  const env = overrides.env ?? process.env;
  const logger = overrides.logger ?? new Logger({ serviceName: 'rotor-emergency' });
  const metrics = overrides.metrics ?? new Metrics({ namespace: 'Rotor', serviceName: 'rotor-emergency' });
  const deps: EmergencyDeps = {
    sm: overrides.sm ?? new SecretsManagerClient({}),
    events: overrides.events ?? new EventBridgeClient({}),
    sns: overrides.sns ?? (env.ALARM_TOPIC_ARN ? new SNSClient({}) : undefined),
    topicArn: overrides.topicArn ?? env.ALARM_TOPIC_ARN,
    logger,
    metrics,
    kinds: overrides.kinds ?? emergencyKinds,
    source: overrides.source ?? env.ROTOR_EVENT_SOURCE ?? emergencyDefaults.source,
    eventBusName: overrides.eventBusName ?? env.ROTOR_EVENT_BUS ?? emergencyDefaults.eventBusName,
    waitTimeoutMs: overrides.waitTimeoutMs ?? (env.WAIT_TIMEOUT_MS ? Number(env.WAIT_TIMEOUT_MS) : undefined),
    pollIntervalMs: overrides.pollIntervalMs,
    announceLeaseMs: overrides.announceLeaseMs,
    sleep: overrides.sleep,
    env,
  };
  return middy(async (event: EventBridgeEvent | unknown) => handleLeakEvent(event, deps))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics)) as unknown as (event: EventBridgeEvent | unknown, context: Context) => Promise<EmergencyResult[]>;
}

export const handler = createEmergencyHandler();
