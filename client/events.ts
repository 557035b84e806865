import { RotorEvents } from '../lambdas/contract/vocabulary.js';
import { defaultSecretCache, type SecretCache } from './secrets.js';

/** The detail-types after which a cached value of the named secret is stale. */
export const INVALIDATING_DETAIL_TYPES: readonly string[] = [RotorEvents.ROTATED, RotorEvents.REVOKED];

export interface RotorEventOptions {
  /** @default the process-wide cache */
  readonly cache?: SecretCache;
  /** The `source` of Rotor's events (ROTOR_EVENT_SOURCE of the emergency function). @default 'rotor' */
  readonly source?: string;
}

/**
 * Push invalidation: given an EventBridge event (or its JSON, as an SQS target delivers it),
 * drops what the cache holds for the secret a Rotor "Secret Rotated" or "Secret Revoked" event
 * names (`detail.secretArn`, else `detail.secretName`, else `resources[0]`), matched by ARN or
 * name. Other events are ignored. Returns the secret named and how many entries were dropped.
 */
export function invalidateOnRotorEvent(event: unknown, options: RotorEventOptions = {}): { secret?: string; dropped: number } {
  const parsed = typeof event === 'string' ? safeJson(event) : event;
  const e = parsed as { source?: unknown; 'detail-type'?: unknown; detail?: Record<string, unknown>; resources?: unknown[] } | undefined;
  if (!e || e.source !== (options.source ?? RotorEvents.SOURCE) || !INVALIDATING_DETAIL_TYPES.includes(String(e['detail-type']))) {
    return { dropped: 0 };
  }
  const named = [e.detail?.secretArn, e.detail?.secretName, e.resources?.[0]].find((v): v is string => typeof v === 'string' && v !== '');
  if (!named) return { dropped: 0 };
  const cache = options.cache ?? defaultSecretCache();
  let dropped = cache.invalidate(named);
  if (typeof e.detail?.secretName === 'string' && e.detail.secretName !== named) dropped += cache.invalidate(e.detail.secretName);
  return { secret: named, dropped };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
