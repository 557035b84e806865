import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { userInfo } from 'node:os';
import { RotorEvents } from '../../lambdas/contract/index.js';
import { leakDetailSchema, type LeakDetail } from '../../lambdas/emergency/events.js';
import { CliError, UsageError } from './errors.js';

/** What a leak names: exactly one of the three. */
export type LeakTarget =
  | { readonly secretId: string; readonly accessKeyId?: never; readonly fingerprint?: never }
  | { readonly accessKeyId: string; readonly secretId?: never; readonly fingerprint?: never }
  | { readonly fingerprint: string; readonly secretId?: never; readonly accessKeyId?: never };

export interface LeakEventOptions {
  /** @default RotorEvents.SOURCE */
  readonly source?: string;
  /** @default RotorEvents.BUS */
  readonly eventBusName?: string;
  /** @default - 'no reason given' (the event contract's default) */
  readonly reason?: string;
  /** The secret's ARN when known, sent as the event's resource. */
  readonly resourceArn?: string;
}

/** Who sends from this CLI, for the audit trail (`rotor cli (alice)`). */
export function cliReporter(): string {
  let user = 'unknown user';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep the placeholder
  }
  return `rotor cli (${user})`.slice(0, 256);
}

/** The leak event's detail, checked against the contract the emergency handler parses. */
export function leakDetail(target: LeakTarget, reason: string | undefined): LeakDetail {
  const parsed = leakDetailSchema.safeParse({ ...target, reason, reporter: cliReporter() });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    const option = { secretId: '--secret', accessKeyId: '--access-key-id', fingerprint: '--fingerprint', reason: '--reason' }[field];
    throw new UsageError(`${option ?? (field || 'leak event')}: ${issue.message}`);
  }
  return parsed.data;
}

export interface SentEvent {
  readonly eventId: string;
  readonly source: string;
  readonly detailType: string;
  readonly eventBusName: string;
  readonly detail: LeakDetail;
}

/** Sends Rotor's "Secret Leak Detected" event; returns its id. */
export async function sendLeakEvent(events: EventBridgeClient, detail: LeakDetail, options: LeakEventOptions = {}): Promise<SentEvent> {
  const source = options.source ?? RotorEvents.SOURCE;
  const eventBusName = options.eventBusName ?? RotorEvents.BUS;
  const out = await events.send(
    new PutEventsCommand({
      Entries: [
        {
          Source: source,
          DetailType: RotorEvents.LEAK_DETECTED,
          Detail: JSON.stringify(detail),
          EventBusName: eventBusName,
          Resources: options.resourceArn ? [options.resourceArn] : undefined,
        },
      ],
    }),
  );
  const entry = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0 || !entry?.EventId) {
    throw new CliError(
      `EventBridge did not accept the leak event on bus '${eventBusName}': ${entry?.ErrorCode ?? 'no event id returned'}` +
        `${entry?.ErrorMessage ? `: ${entry.ErrorMessage}` : ''}`,
    );
  }
  return { eventId: entry.EventId, source, detailType: RotorEvents.LEAK_DETECTED, eventBusName, detail };
}
