import { paginateFilterLogEvents, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';

/** The two lines the engine logs at the end of every step (lambdas/core/engine.ts). */
export const StepMessages = {
  FINISHED: 'rotation step finished',
  FAILED: 'rotation step failed',
} as const;

/** One step's end, as the rotation function logged it. */
export interface StepRecord {
  readonly eventId: string;
  readonly timestamp: number;
  readonly step: string;
  readonly token: string;
  readonly finished: boolean;
  readonly outcome?: string;
  readonly durationMs?: number;
  /** The engine's (redacted) error of a failed step. */
  readonly error?: { readonly name?: string; readonly message?: string };
}

export type LogRead =
  | { readonly ok: true; readonly records: StepRecord[] }
  /** `lasting`: the group cannot be read with these credentials at all (access denied). */
  | { readonly ok: false; readonly reason: string; readonly lasting: boolean };

export const rotationLogDefaults = {
  /** Read events from this long before the rotation started (clocks differ). */
  clockSkewMs: 60_000,
  /** FilterLogEvents pages read at most per poll. */
  maxPages: 20,
} as const;

const LASTING_ERRORS = new Set(['AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException']);

/**
 * Parses one log event: Powertools writes a JSON object per line; Lambda's text format puts a
 * timestamp, request id and level in front of it.
 */
export function parseStepRecord(eventId: string, timestamp: number, message: string): StepRecord | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  let line: Record<string, unknown>;
  try {
    line = JSON.parse(message.slice(start)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (line.message !== StepMessages.FINISHED && line.message !== StepMessages.FAILED) return undefined;
  if (typeof line.step !== 'string' || typeof line.token !== 'string') return undefined;
  const error = line.error && typeof line.error === 'object' ? (line.error as Record<string, unknown>) : undefined;
  return {
    eventId,
    timestamp,
    step: line.step,
    token: line.token,
    finished: line.message === StepMessages.FINISHED,
    outcome: typeof line.outcome === 'string' ? line.outcome : undefined,
    durationMs: typeof line.durationMs === 'number' ? line.durationMs : undefined,
    error: error
      ? {
          name: typeof error.name === 'string' ? error.name : undefined,
          message: typeof error.message === 'string' ? error.message : undefined,
        }
      : undefined,
  };
}

/**
 * Reads the step lines of one rotation (one token) from the rotation function's log group,
 * each line once, in time order.
 */
export class RotationLog {
  private readonly seen = new Set<string>();

  public constructor(
    private readonly logs: CloudWatchLogsClient,
    public readonly logGroupName: string,
    private readonly token: string,
    private readonly since: number,
  ) {}

  /** The step lines that appeared since the last read. */
  public async read(): Promise<LogRead> {
    const records: StepRecord[] = [];
    const read = new Set<string>();
    try {
      const pages = paginateFilterLogEvents(
        { client: this.logs },
        {
          logGroupName: this.logGroupName,
          startTime: this.since - rotationLogDefaults.clockSkewMs,
          filterPattern: `"${this.token}"`,
        },
      );
      let page = 0;
      for await (const out of pages) {
        for (const event of out.events ?? []) {
          const id = event.eventId ?? `${event.logStreamName}/${event.timestamp}/${event.message}`;
          if (this.seen.has(id) || read.has(id)) continue;
          read.add(id);
          const record = parseStepRecord(id, event.timestamp ?? 0, event.message ?? '');
          if (record && record.token === this.token) records.push(record);
        }
        if (++page >= rotationLogDefaults.maxPages) break;
      }
    } catch (err) {
      const e = err as Error;
      return { ok: false, reason: `${e.name}: ${e.message}`, lasting: LASTING_ERRORS.has(e.name) };
    }
    // Only a whole read counts as seen: after a failed page, the next read starts over.
    for (const id of read) this.seen.add(id);
    records.sort((a, b) => a.timestamp - b.timestamp);
    return { ok: true, records };
  }
}
