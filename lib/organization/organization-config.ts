import { Organization, RotorEvents } from '../../lambdas/contract/index.js';
import type { RotorConfig } from '../rotor-config.js';

/**
 * The Organizations deployment shape (OrganizationShape): one central account that owns the
 * StackSet, the central event bus and the routing rules, and a member stack (RotorStack) in
 * every account of the target OUs, deployed by a service-managed CloudFormation StackSet.
 * Every optional field documents its default.
 */
export interface OrganizationConfig {
  /** The Organization's id (`o-` and 10 to 32 lowercase letters or digits): the bus and bucket policies admit its principals only. */
  readonly organizationId: string;
  /**
   * The central account: StackSets delegated administrator (or the management account, with
   * `callAs: 'SELF'`), GuardDuty delegated administrator and AWS Health organizational-view
   * delegated administrator. It deploys the central stack and routes events to the members.
   */
  readonly centralAccount: string;
  /** The region Rotor runs in: the central bus, the StackSet and its member stacks. */
  readonly region: string;
  /** The OUs (`ou-…`) or the root (`r-…`) the StackSet deploys the member stack to, new accounts included (auto-deployment). */
  readonly organizationalUnitIds: readonly string[];
  /**
   * The member accounts the central account routes leak events, GuardDuty findings and Health
   * events to (EventBridge targets are fixed ARNs: one set of rules per account). An account in
   * the OUs but not listed still gets the member stack and handles its own account's events.
   */
  readonly memberAccounts: readonly string[];
  /**
   * Prefix of the buckets that hold the member stack's Lambda code and template: one bucket
   * `<prefix>-<region>` in the central account (OrganizationAssetsStack), readable by the Organization.
   */
  readonly assetBucketPrefix: string;
  /**
   * The account trusted to assume the read-only role (Organization.READ_ROLE_NAME) in every
   * member account (`rotor status|audit --accounts|--org`).
   * @default - the central account
   */
  readonly readerAccount?: string;
  /**
   * The accounts whose leak reports on the central bus are routed to any member account (a
   * member's own reports about itself always are): the central bus admits every principal of the
   * Organization, and one member must not be able to set off emergency rotations in another.
   * @default - the central account only
   */
  readonly leakReporterAccounts?: readonly string[];
  /**
   * How the central account calls StackSets: `DELEGATED_ADMIN` (a delegated administrator
   * account, the recommended setup) or `SELF` (the management account).
   * @default 'DELEGATED_ADMIN'
   */
  readonly callAs?: 'DELEGATED_ADMIN' | 'SELF';
  /**
   * Name of the StackSet.
   * @default 'Rotor'
   */
  readonly stackSetName?: string;
  /**
   * The AWS partition (the ARNs the routing rules and policies name).
   * @default 'aws'
   */
  readonly partition?: string;
  /**
   * Days the central bus archives Rotor's events ("Secret Rotated", "Secret Revoked" from every
   * member, leak reports sent to it): the Organization's audit trail. 0: no archive.
   * @default 365
   */
  readonly archiveDays?: number;
}

/** The member stack's config: a RotorConfig without an environment (a StackSet template is deployed to many). */
export type OrganizationMemberConfig = Omit<RotorConfig, 'env'>;

export const organizationDefaults = {
  callAs: 'DELEGATED_ADMIN',
  stackSetName: 'Rotor',
  partition: 'aws',
  archiveDays: 365,
  /** Events of Rotor's own `source` (the member config's `emergency.eventSource`, else this). */
  eventSource: RotorEvents.SOURCE,
  /**
   * StackSet operation preferences: a quarter of the accounts at a time, and no failed account
   * tolerated (a failing template stops the rollout before it reaches every account).
   */
  maxConcurrentPercentage: 25,
  failureTolerancePercentage: 0,
} as const;

/**
 * EventBridge delivers up to 5 targets per rule and 300 rules per bus (the default quota): the
 * central default bus holds one GuardDuty rule per member account, the central bus two leak rules.
 */
export const ORGANIZATION_MAX_MEMBER_ACCOUNTS = 140;

/** The names the central and the member stacks both derive (never spelled twice). */
export const OrganizationNames = {
  /** The bucket of the member stack's code and template in `region`. */
  assetBucket: (prefix: string, region: string): string => `${prefix}-${region}`,
  /**
   * The role the central account's routing rules use to put events on one member's bus; the
   * member's bus policy admits exactly this role. Roles are global: the region is in the name.
   */
  routeRole: (region: string, memberAccount: string): string => `rotor-route-${region}-${memberAccount}`,
  memberBusArn: (partition: string, region: string, account: string): string =>
    `arn:${partition}:events:${region}:${account}:event-bus/${Organization.MEMBER_BUS_NAME}`,
  centralBusArn: (partition: string, region: string, account: string): string =>
    `arn:${partition}:events:${region}:${account}:event-bus/${Organization.CENTRAL_BUS_NAME}`,
  /** Object keys in the asset buckets: content-addressed, so a key never changes meaning. */
  assetKey: (digest: string, extension: string): string => `rotor/assets/${digest}${extension}`,
  templateKey: (digest: string): string => `rotor/templates/${digest}.json`,
} as const;

const ACCOUNT = /^\d{12}$/;
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
const OU_OR_ROOT = /^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
// S3 bucket names are at most 63 characters: the prefix leaves room for `-<region>` (at most 15).
const BUCKET_PREFIX = /^[a-z0-9][a-z0-9.-]{1,46}$/;

/** Checks the Organization config at synth time; each message names the field and the bad value (no value here is a secret). */
export function validateOrganizationConfig(config: OrganizationConfig): void {
  const fail = (message: string): never => {
    throw new Error(`organization.${message}`);
  };
  if (!ORGANIZATION_ID.test(config.organizationId)) {
    fail(`organizationId must be 'o-' and 10 to 32 lowercase letters or digits, got '${config.organizationId}'`);
  }
  if (!ACCOUNT.test(config.centralAccount)) fail(`centralAccount must be a 12-digit account id, got '${config.centralAccount}'`);
  if (config.readerAccount !== undefined && !ACCOUNT.test(config.readerAccount)) {
    fail(`readerAccount must be a 12-digit account id, got '${config.readerAccount}'`);
  }
  for (const account of config.leakReporterAccounts ?? []) {
    if (!ACCOUNT.test(account)) fail(`leakReporterAccounts must hold 12-digit account ids, got '${account}'`);
  }
  if (!REGION.test(config.region)) fail(`region must be a region name such as eu-west-1, got '${config.region}'`);
  if (config.organizationalUnitIds.length === 0) fail('organizationalUnitIds is empty: the StackSet would deploy to no account');
  for (const ou of config.organizationalUnitIds) {
    if (!OU_OR_ROOT.test(ou)) fail(`organizationalUnitIds must hold OU ids (ou-…) or the root id (r-…), got '${ou}'`);
  }
  if (config.memberAccounts.length > ORGANIZATION_MAX_MEMBER_ACCOUNTS) {
    fail(`memberAccounts lists ${config.memberAccounts.length} accounts; at most ${ORGANIZATION_MAX_MEMBER_ACCOUNTS} fit EventBridge's default rule quota`);
  }
  const seen = new Set<string>();
  for (const account of config.memberAccounts) {
    if (!ACCOUNT.test(account)) fail(`memberAccounts must hold 12-digit account ids, got '${account}'`);
    if (seen.has(account)) fail(`memberAccounts lists '${account}' twice`);
    seen.add(account);
  }
  if (!BUCKET_PREFIX.test(config.assetBucketPrefix) || config.assetBucketPrefix.includes('..')) {
    fail(`assetBucketPrefix must be 2 to 47 lowercase letters, digits, dots and hyphens (a bucket name without '-<region>'), got '${config.assetBucketPrefix}'`);
  }
  if (config.callAs !== undefined && config.callAs !== 'DELEGATED_ADMIN' && config.callAs !== 'SELF') {
    fail(`callAs must be DELEGATED_ADMIN or SELF, got '${String(config.callAs)}'`);
  }
  if (config.stackSetName !== undefined && !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(config.stackSetName)) {
    fail(`stackSetName must start with a letter and hold up to 128 letters, digits and hyphens, got '${config.stackSetName}'`);
  }
  const days = config.archiveDays;
  if (days !== undefined && (!Number.isInteger(days) || days < 0 || days > 3650)) fail(`archiveDays must be a whole number from 0 to 3650, got ${days}`);
}

/** The file the member synthesizer writes beside the member template in the cloud assembly: what `publish-assets` uploads. */
export const MEMBER_ASSETS_MANIFEST_SUFFIX = '.rotor-assets.json';

/** One object the member template needs in every region's asset bucket. */
export interface MemberAssetEntry {
  /** Object key (content-addressed). */
  readonly key: string;
  /** Path relative to the cloud assembly folder. */
  readonly path: string;
  /** `zip`: a folder uploaded as a zip archive (Lambda code); `file`: uploaded as it is (the template). */
  readonly packaging: 'zip' | 'file';
  /** The content digest the key was made from (the publisher checks it again before uploading). */
  readonly digest: string;
}

/** The manifest `publish-assets` reads (one per member stack). */
export interface MemberAssetsManifest {
  readonly version: 1;
  readonly bucketPrefix: string;
  readonly regions: readonly string[];
  /** The member template (the StackSet's TemplateURL names it in the bucket of the StackSet's region). */
  readonly template: MemberAssetEntry;
  readonly files: readonly MemberAssetEntry[];
}
