import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
  type GetSecretValueCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import { SecretReadError, errorName } from './errors.js';
import { secretNameOf } from '../lambdas/core/labels.js';

/** Defaults of the secret cache, visible in one place. */
export const secretCacheDefaults = {
  /** How long a value read from AWSCURRENT is served without asking Secrets Manager again. */
  ttlMs: 120_000,
  /**
   * How long a value read from AWSPENDING (after an authentication failure during a rotation) is
   * served: short, so that clients move to AWSCURRENT as soon as the rotation finishes.
   */
  pendingTtlMs: 5_000,
  /** Attempts at a consistent read when a label moves between DescribeSecret and GetSecretValue. */
  labelRaceAttempts: 3,
} as const;

export interface SecretCacheOptions {
  /** @default a SecretsManagerClient from the environment's configuration */
  readonly client?: SecretsManagerClient;
  /** @default secretCacheDefaults.ttlMs (2 minutes) */
  readonly ttlMs?: number;
  /** @default secretCacheDefaults.pendingTtlMs (5 s) */
  readonly pendingTtlMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * The region the application runs in. A secret named by the ARN of a primary in another
   * region is read from its replica here (see `readReplica`).
   * @default - the client's configured region (AWS_REGION for the default client)
   */
  readonly region?: string;
  /**
   * Read a secret named by an ARN of another region from its replica in `region` (the same ARN
   * with the region replaced: replicas keep the name and suffix), and fall back to the primary,
   * in its own region, when `region` has no replica (ResourceNotFoundException) or the
   * application may not read it (AccessDeniedException). `false`: always read the primary.
   * A secret named by its name is read in the client's region, as always.
   * @default true
   */
  readonly readReplica?: boolean;
  /**
   * The client for a region other than the configured client's (the replica's region, or the
   * primary's).
   * @default - a SecretsManagerClient for that region with the configured client's credentials, custom endpoint and attempts
   */
  readonly clientForRegion?: (region: string) => SecretsManagerClient;
}

/** A value as read, with the version it came from (what a caller reports when it is refused). */
export interface SecretVersion<T = Record<string, unknown>> {
  readonly value: T;
  readonly versionId: string;
  /** The label it was read by: AWSCURRENT, or AWSPENDING after an authentication failure during a rotation. */
  readonly stage: 'AWSCURRENT' | 'AWSPENDING';
  /** The secret's ARN, as Secrets Manager answered it. */
  readonly arn: string;
  /** When this value stops being served from the cache (epoch ms). */
  readonly expiresAt: number;
}

export interface GetOptions {
  /**
   * The version whose value the caller just had refused by the target (a failed login, a 401).
   * The cache re-reads: AWSCURRENT if it has moved on from that version, else the AWSPENDING
   * value of a rotation in flight (single-user rotations change the target in setSecret,
   * before finishSecret moves AWSCURRENT), else AWSCURRENT as it is.
   */
  readonly failedVersionId?: string;
  /** Read again now, whatever the cache holds. */
  readonly forceRefresh?: boolean;
}

interface Entry {
  version?: SecretVersion<unknown>;
  inFlight?: { key: string; promise: Promise<SecretVersion<unknown>> };
  /** Where this secret is read (resolved at the first read; a replica that goes away falls back to the primary). */
  source?: Source;
}

/** Where one secret is read: the id and the client of its region; for a replica, the primary to fall back to. */
interface Source {
  readonly secretId: string;
  readonly client: SecretsManagerClient;
  readonly fallback?: { readonly secretId: string; readonly client: SecretsManagerClient };
}

/** A secret ARN's parts (`arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<suffix>`). */
const SECRET_ARN = /^arn:([a-z0-9-]+):secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)$/;

/** Errors with which a replica's region says "not here for you": then the primary is read. */
const NO_REPLICA_ERRORS = ['ResourceNotFoundException', 'AccessDeniedException'];

/**
 * A cache of Secrets Manager values for applications: AWSCURRENT, parsed as JSON, served for
 * `ttlMs`; concurrent callers share one read; a caller refused by its target re-reads (see
 * `GetOptions.failedVersionId`). It reads AWSCURRENT and AWSPENDING only by VersionStage, and
 * AWSPENDING by the VersionId DescribeSecret names with it. Nothing it holds is ever logged
 * or put in an error.
 *
 * Replica secrets: a secret named by the ARN of a primary in another region is read from its
 * replica in the application's region (`region`, `readReplica`), labels and all, so following a
 * rotation works the same there; a region without a replica falls back to the primary, once per
 * secret (until `invalidate`).
 */
export class SecretCache {
  private readonly entries = new Map<string, Entry>();
  private clientInstance: SecretsManagerClient | undefined;
  private readonly regional = new Map<string, SecretsManagerClient>();
  private homeRegion: Promise<string | undefined> | undefined;
  private readonly options: SecretCacheOptions;
  private readonly ttlMs: number;
  private readonly pendingTtlMs: number;
  private readonly now: () => number;
  /** Calls made to Secrets Manager (DescribeSecret and GetSecretValue), for figures and tests. */
  public calls = 0;

  public constructor(options: SecretCacheOptions = {}) {
    this.clientInstance = options.client;
    this.options = options;
    this.ttlMs = positive(options.ttlMs ?? secretCacheDefaults.ttlMs, 'ttlMs');
    this.pendingTtlMs = positive(options.pendingTtlMs ?? secretCacheDefaults.pendingTtlMs, 'pendingTtlMs');
    this.now = options.now ?? Date.now;
  }

  private get client(): SecretsManagerClient {
    return (this.clientInstance ??= new SecretsManagerClient({}));
  }

  /** The parsed value of the secret (see `GetOptions`). */
  public async get<T = Record<string, unknown>>(secretId: string, options: GetOptions = {}): Promise<T> {
    return (await this.getVersion<T>(secretId, options)).value;
  }

  /** The parsed value and the version it came from. */
  public async getVersion<T = Record<string, unknown>>(secretId: string, options: GetOptions = {}): Promise<SecretVersion<T>> {
    const entry = this.entryOf(secretId);
    const held = entry.version;
    const fresh = held !== undefined && held.expiresAt > this.now();
    const failed = options.failedVersionId;
    if (!options.forceRefresh && fresh && (failed === undefined || held.versionId !== failed)) {
      // A value newer than the refused one is already here (another caller re-read it).
      return held as SecretVersion<T>;
    }
    const key = failed === undefined ? 'current' : `failed:${failed}`;
    const flying = entry.inFlight;
    if (!options.forceRefresh && flying && (flying.key === key || flying.key === 'current' || failed === undefined)) {
      // One read at a time: share it, unless it may answer the very version this caller had refused.
      const shared = await flying.promise;
      if (flying.key === key || failed === undefined || shared.versionId !== failed) return shared as SecretVersion<T>;
    }
    const promise = (failed === undefined ? this.readCurrent(secretId) : this.readAfterFailure(secretId, failed)).then(
      (version) => {
        entry.version = version;
        return version;
      },
    );
    const flight = { key, promise };
    entry.inFlight = flight;
    try {
      return (await promise) as SecretVersion<T>;
    } finally {
      if (entry.inFlight === flight) entry.inFlight = undefined;
    }
  }

  /** Reads AWSCURRENT again now (and serves it from then on). */
  public async refresh<T = Record<string, unknown>>(secretId: string): Promise<T> {
    return this.get<T>(secretId, { forceRefresh: true });
  }

  /**
   * Drops what is cached for a secret (by the id it was asked for, its name or its ARN), or for
   * every secret when none is named. The next `get` reads Secrets Manager. Returns how many
   * entries were dropped.
   */
  public invalidate(secretIdOrArn?: string): number {
    if (secretIdOrArn === undefined) {
      const n = this.entries.size;
      this.entries.clear();
      return n;
    }
    let dropped = 0;
    for (const [id, entry] of this.entries) {
      if (sameSecret(id, entry.version?.arn, secretIdOrArn)) {
        this.entries.delete(id);
        dropped++;
      }
    }
    return dropped;
  }

  private entryOf(secretId: string): Entry {
    let entry = this.entries.get(secretId);
    if (!entry) this.entries.set(secretId, (entry = {}));
    return entry;
  }

  /**
   * Where a secret is read. An ARN of another region than the application's: its replica there
   * (same name and suffix), with the primary as fallback; with `readReplica: false`, the primary
   * through a client of its own region. A name, or an ARN of this region: as given.
   */
  private async sourceOf(secretId: string): Promise<Source> {
    const entry = this.entryOf(secretId);
    if (entry.source) return entry.source;
    const arn = SECRET_ARN.exec(secretId);
    const primaryRegion = arn?.[2];
    const here = arn ? await this.region() : undefined;
    let source: Source;
    if (!arn || primaryRegion === undefined || here === undefined || here === primaryRegion) {
      source = { secretId, client: here === undefined ? this.client : await this.clientFor(here) };
    } else if (this.options.readReplica === false) {
      source = { secretId, client: await this.clientFor(primaryRegion) };
    } else {
      source = {
        secretId: `arn:${arn[1]}:secretsmanager:${here}:${arn[3]}:secret:${arn[4]}`,
        client: await this.clientFor(here),
        fallback: { secretId, client: await this.clientFor(primaryRegion) },
      };
    }
    return (entry.source = source);
  }

  /** The application's region: the option, else the configured client's. */
  private region(): Promise<string | undefined> {
    return (this.homeRegion ??= (async () => {
      if (this.options.region) return this.options.region;
      try {
        return await this.client.config.region();
      } catch {
        return undefined; // no region configured: ids are read as given, through the client as given
      }
    })());
  }

  private async clientFor(region: string): Promise<SecretsManagerClient> {
    const home = this.client;
    if ((await home.config.region().catch(() => undefined)) === region) return home;
    let client = this.regional.get(region);
    if (!client) {
      client =
        this.options.clientForRegion?.(region) ??
        new SecretsManagerClient({
          region,
          credentials: home.config.credentials,
          maxAttempts: home.config.maxAttempts,
          ...(home.config.isCustomEndpoint ? { endpoint: home.config.endpoint } : {}),
        });
      this.regional.set(region, client);
    }
    return client;
  }

  /**
   * Runs the first, secret-level call of a read (GetSecretValue AWSCURRENT, DescribeSecret) on
   * the secret's source; when that is a replica its region does not have (or does not let the
   * application read), the primary becomes the source for good and the call is made there.
   */
  private async onSource<T>(secretId: string, call: (source: Source) => Promise<T>): Promise<{ out: T; source: Source }> {
    const source = await this.sourceOf(secretId);
    try {
      return { out: await call(source), source };
    } catch (err) {
      if (!source.fallback || !NO_REPLICA_ERRORS.includes(errorName(err))) throw err;
      const primary: Source = source.fallback;
      this.entryOf(secretId).source = primary;
      this.calls++;
      return { out: await call(primary), source: primary };
    }
  }

  private async readCurrent(secretId: string): Promise<SecretVersion<unknown>> {
    const { out } = await this.send(secretId, 'AWSCURRENT', () =>
      this.onSource(secretId, (at) => at.client.send(new GetSecretValueCommand({ SecretId: at.secretId, VersionStage: 'AWSCURRENT' }))),
    );
    return this.version(secretId, out, 'AWSCURRENT');
  }

  /**
   * After the target refused `failedVersionId`: AWSCURRENT if it is another version, else the
   * pending value of a rotation in flight, else AWSCURRENT (the caller's retry will tell).
   */
  private async readAfterFailure(secretId: string, failedVersionId: string): Promise<SecretVersion<unknown>> {
    for (let attempt = 1; ; attempt++) {
      const { out: described, source } = await this.send(secretId, 'DescribeSecret', () =>
        this.onSource(secretId, (at) => at.client.send(new DescribeSecretCommand({ SecretId: at.secretId }))),
      );
      const stages = Object.entries(described.VersionIdsToStages ?? {});
      const current = stages.find(([, s]) => s.includes('AWSCURRENT'))?.[0];
      const pending = stages.find(([, s]) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT'))?.[0];
      const [versionId, stage] =
        current !== failedVersionId || pending === undefined
          ? ([current, 'AWSCURRENT'] as const)
          : ([pending, 'AWSPENDING'] as const);
      if (versionId === undefined) throw new SecretReadError(`secret ${secretId}: no version is staged AWSCURRENT`, { secretId });
      try {
        const out = await source.client.send(
          new GetSecretValueCommand({ SecretId: source.secretId, VersionId: versionId, VersionStage: stage }),
        );
        this.calls++;
        if (stage === 'AWSPENDING' && !out.SecretString) {
          // createSecret has not stored the pending value yet: AWSCURRENT is all there is.
          return this.readCurrent(secretId);
        }
        return this.version(secretId, out, stage);
      } catch (err) {
        this.calls++;
        // The label moved between the two calls (the rotation finished): look again, bounded.
        const name = (err as Error).name ?? '';
        // The pending version has no value yet (createSecret has not stored it): AWSCURRENT is all there is.
        if (stage === 'AWSPENDING' && name === 'ResourceNotFoundException') return this.readCurrent(secretId);
        const moved = ['InvalidRequestException', 'ResourceNotFoundException'].includes(name) || name.includes('Mismatch');
        if (!moved || attempt >= secretCacheDefaults.labelRaceAttempts) throw readError(secretId, stage, err);
      }
    }
  }

  private async send<T>(secretId: string, what: string, call: () => Promise<T>): Promise<T> {
    this.calls++;
    try {
      return await call();
    } catch (err) {
      throw readError(secretId, what, err);
    }
  }

  private version(secretId: string, out: GetSecretValueCommandOutput, stage: SecretVersion['stage']): SecretVersion<unknown> {
    if (out.SecretString === undefined || out.VersionId === undefined) {
      throw new SecretReadError(`secret ${secretId}: ${stage} has no string value`, { secretId });
    }
    let value: unknown;
    try {
      value = JSON.parse(out.SecretString);
    } catch {
      // JSON.parse's message quotes the text: rebuilt without it, and without the cause.
      throw new SecretReadError(`secret ${secretId}: ${stage} (version ${out.VersionId}) is not JSON`, { secretId });
    }
    const ttl = stage === 'AWSPENDING' ? Math.min(this.pendingTtlMs, this.ttlMs) : this.ttlMs;
    return { value, versionId: out.VersionId, stage, arn: out.ARN ?? secretId, expiresAt: this.now() + ttl };
  }
}

function readError(secretId: string, what: string, err: unknown): SecretReadError {
  if (err instanceof SecretReadError) return err;
  const name = errorName(err);
  return new SecretReadError(`secret ${secretId}: reading ${what} failed (${name})`, { secretId, code: name, cause: err });
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number of milliseconds, got ${n}`);
  return n;
}

/** Whether a cached id (name or ARN, with the ARN Secrets Manager answered) names the same secret as `other`. */
function sameSecret(id: string, arn: string | undefined, other: string): boolean {
  if (id === other || arn === other) return true;
  return secretNameOf(id) === secretNameOf(other) || (arn !== undefined && secretNameOf(arn) === secretNameOf(other));
}

/** The process-wide cache behind `getSecret`, `pgPool`, `mysqlPool`, `fromRotatedAccessKey` and `tokenFetch`. */
let sharedCache: SecretCache | undefined;
export function defaultSecretCache(): SecretCache {
  return (sharedCache ??= new SecretCache());
}

/**
 * The parsed JSON of the secret's AWSCURRENT value, cached (2 minutes by default) in the
 * process-wide cache; concurrent callers share one read. Pass `failedVersionId` (from
 * `getSecretVersion`) after the target refused the value, to get what works next.
 */
export async function getSecret<T = Record<string, unknown>>(secretId: string, options: GetOptions = {}): Promise<T> {
  return defaultSecretCache().get<T>(secretId, options);
}

/** `getSecret` with the version the value came from. */
export async function getSecretVersion<T = Record<string, unknown>>(secretId: string, options: GetOptions = {}): Promise<SecretVersion<T>> {
  return defaultSecretCache().getVersion<T>(secretId, options);
}

/** Forces a re-read of AWSCURRENT in the process-wide cache. */
export async function refreshSecret<T = Record<string, unknown>>(secretId: string): Promise<T> {
  return defaultSecretCache().refresh<T>(secretId);
}
