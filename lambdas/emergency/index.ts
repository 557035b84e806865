import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { RotorMetrics, ServiceNames, settings, type Setting } from '../contract/index.js';
import { fingerprintKeySource } from '../core/fingerprint.js';
import { readSetting } from '../core/settings.js';
import { kinds } from '../kinds.js';
import { handleLeakEvent, type EmergencyDeps, type EmergencyKinds, type EmergencyResult } from './emergency.js';
import type { EventBridgeEvent } from './events.js';

/** Every kind the emergency handler can revoke with: the registry (lambdas/kinds.ts), by rotor:kind tag. */
export const emergencyKinds: EmergencyKinds = kinds;

/**
 * The emergency Lambda: EventBridge delivers AWS Health credential exposures, GuardDuty IAM
 * credential findings and Rotor's "Secret Leak Detected" events. Its environment is the
 * contract's settings eventSource (ROTOR_EVENT_SOURCE), eventBus (ROTOR_EVENT_BUS),
 * alarmTopicArn (ALARM_TOPIC_ARN, the audit summary) and waitTimeoutMs (WAIT_TIMEOUT_MS, how
 * long to wait for the rotation) and fingerprintKeyArn (ROTOR_FINGERPRINT_KEY_ARN, Rotor's
 * fingerprint key), each validated, with the contract's defaults.
 */
export function createEmergencyHandler(overrides: Partial<EmergencyDeps> = {}) {
  const env = overrides.env ?? process.env;
  const read = <T>(setting: Setting<T>) => readSetting(setting, env, 'emergency handler');
  const logger = overrides.logger ?? new Logger({ serviceName: ServiceNames.EMERGENCY });
  const metrics = overrides.metrics ?? new Metrics({ namespace: RotorMetrics.NAMESPACE, serviceName: ServiceNames.EMERGENCY });
  const alarmTopicArn = read(settings.alarmTopicArn);
  const sm = overrides.sm ?? new SecretsManagerClient({});
  const deps: EmergencyDeps = {
    sm,
    events: overrides.events ?? new EventBridgeClient({}),
    sns: overrides.sns ?? (alarmTopicArn ? new SNSClient({}) : undefined),
    topicArn: overrides.topicArn ?? alarmTopicArn,
    logger,
    metrics,
    kinds: overrides.kinds ?? emergencyKinds,
    source: overrides.source ?? read(settings.eventSource),
    eventBusName: overrides.eventBusName ?? read(settings.eventBus),
    waitTimeoutMs: overrides.waitTimeoutMs ?? read(settings.waitTimeoutMs),
    pollIntervalMs: overrides.pollIntervalMs,
    announceLeaseMs: overrides.announceLeaseMs,
    sleep: overrides.sleep,
    env,
    // ROTOR_FINGERPRINT_KEY_ARN: read at the first lookup by access key id, then kept.
    fingerprintKey: overrides.fingerprintKey ?? fingerprintKeySource(sm, env, 'emergency handler'),
  };
  return middy(async (event: EventBridgeEvent | unknown) => handleLeakEvent(event, deps))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics)) as unknown as (event: EventBridgeEvent | unknown, context: Context) => Promise<EmergencyResult[]>;
}

export const handler = createEmergencyHandler();
