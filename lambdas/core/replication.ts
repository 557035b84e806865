/**
 * Replica secrets: Secrets Manager copies a secret to other regions (only the primary rotates)
 * and reports each copy's state in DescribeSecret's ReplicationStatus. A rotation (finishSecret)
 * and an emergency revocation are done only once every replica has the new labels: until then a
 * client reading its region's replica gets the old AWSCURRENT, or could fall back to an
 * AWSPREVIOUS that was removed on the primary.
 *
 * Our own small loop rather than a library's waiter: the SDK's waiters (util-waiter) have no
 * waiter for replication, and this wait must count its polls (the bound holds with the engine's
 * injectable sleep, which tests make instant), stop at once on Failed, and report per region.
 */
import type { DescribeSecretCommandOutput } from '@aws-sdk/client-secrets-manager';
import { Bounds, ReplicaStatuses } from '../contract/index.js';

/** One replica as DescribeSecret reports it (no value: region, status, the service's message). */
export interface ReplicaState {
  readonly region: string;
  /** InSync, InProgress or Failed (ReplicaStatuses); 'unknown' when the service says nothing. */
  readonly status: string;
  /** The service's words on a replica not in sync (e.g. the KMS key missing in that region). */
  readonly statusMessage?: string;
}

/** The replicas DescribeSecret lists (none for a secret that is not replicated, or for a replica itself). */
export function replicasOf(out: Pick<DescribeSecretCommandOutput, 'ReplicationStatus'>): ReplicaState[] {
  return (out.ReplicationStatus ?? []).map((r) => ({
    region: r.Region ?? 'unknown-region',
    status: r.Status ?? 'unknown',
    // The service's text, capped: it names a region or a key, and is masked with everything else on the way out.
    ...(r.StatusMessage ? { statusMessage: r.StatusMessage.slice(0, 200) } : {}),
  }));
}

export interface ReplicaWaitOptions {
  /** Longest wait. @default Bounds.replicaSync.waitMs */
  readonly waitMs?: number;
  /** Pause between two DescribeSecret calls. @default Bounds.replicaSync.pollMs */
  readonly pollMs?: number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** How a wait for replicas ended. */
export interface ReplicaWaitResult {
  /** Every replica reported InSync (true also for a secret without replicas). */
  readonly inSync: boolean;
  /** The replicas as last reported. */
  readonly replicas: readonly ReplicaState[];
  /** Those not InSync at the end (empty when inSync). */
  readonly notInSync: readonly ReplicaState[];
  /** A replica reported Failed: the wait stopped at once (replication does not heal by waiting). */
  readonly failed: boolean;
  /** DescribeSecret calls made by the wait (the caller counts them as Secrets Manager calls). */
  readonly polls: number;
  /** Time spent sleeping between polls (ms), as the poll interval adds up. */
  readonly waitedMs: number;
}

/**
 * Waits until every replica is InSync. `known` is a report already in hand that was read after
 * the change being waited for (none: the first look is a DescribeSecret). The number of polls is
 * bounded by `waitMs / pollMs`, whatever the clock does.
 */
export async function waitForReplicas(
  describe: () => Promise<readonly ReplicaState[]>,
  known: readonly ReplicaState[] | undefined,
  options: ReplicaWaitOptions,
): Promise<ReplicaWaitResult> {
  const waitMs = Math.max(0, options.waitMs ?? Bounds.replicaSync.waitMs);
  const pollMs = Math.max(1, options.pollMs ?? Bounds.replicaSync.pollMs);
  const maxSleeps = Math.floor(waitMs / pollMs);
  let polls = 0;
  let waitedMs = 0;
  let replicas = known;
  if (replicas === undefined) {
    replicas = await describe();
    polls++;
  }
  for (let sleeps = 0; ; sleeps++) {
    const notInSync = replicas.filter((r) => r.status !== ReplicaStatuses.IN_SYNC);
    const failed = notInSync.some((r) => r.status === ReplicaStatuses.FAILED);
    if (notInSync.length === 0 || failed || sleeps >= maxSleeps) {
      return { inSync: notInSync.length === 0, replicas, notInSync, failed, polls, waitedMs };
    }
    await options.sleep(pollMs);
    waitedMs += pollMs;
    replicas = await describe();
    polls++;
  }
}

/** "eu-west-1 InProgress, ap-south-1 Failed (the KMS key ...)": regions and states, never a value. */
export function describeReplicas(replicas: readonly ReplicaState[]): string {
  return replicas.map((r) => `${r.region} ${r.status}${r.statusMessage ? ` (${r.statusMessage})` : ''}`).join(', ');
}
