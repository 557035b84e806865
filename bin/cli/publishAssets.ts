import { HeadBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { zipSync, type Zippable } from 'fflate';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { assetDigest, listFiles } from '../../lib/organization/asset-digest.js';
// organization-config.ts imports no CDK: the publisher loads the S3 SDK and fflate only.
import {
  MEMBER_ASSETS_MANIFEST_SUFFIX,
  OrganizationNames,
  type MemberAssetEntry,
  type MemberAssetsManifest,
} from '../../lib/organization/organization-config.js';

/**
 * Publishing the Organizations member stack's assets (README, "Many accounts"): the synthesized
 * cloud assembly holds, per member stack, a manifest (`<stack>.rotor-assets.json`, written by
 * OrganizationMemberSynthesizer) of the objects its template names: Rotor's pre-built Lambda
 * bundles and aws-cdk-lib's custom-resource handler (zipped here), and the template itself. Each
 * goes to the bucket `<prefix>-<region>` of every region the StackSet deploys to, under its
 * content-addressed key: an object already there is the same content and is left alone.
 *
 * Rotor writes this instead of running cdk-assets: the member template's assets are not in a CDK
 * asset manifest (no bootstrap bucket exists in the member accounts to describe), and what is
 * needed is small: zip a folder (fflate), and PutObject with the S3 SDK.
 */

export interface PublishAssetsOptions {
  /** The cloud assembly folder `cdk synth` wrote (cdk.out). */
  readonly assemblyDir: string;
  /** An S3 client for a region (the caller's credentials: the central account's). */
  readonly s3For: (region: string) => S3Client;
  /** Called once per object, with what happened to it. */
  readonly onObject?: (result: PublishedObject) => void;
}

export interface PublishedObject {
  readonly bucket: string;
  readonly key: string;
  /** `uploaded`, or `present` (the same content-addressed key was already there). */
  readonly action: 'uploaded' | 'present';
  readonly bytes: number;
}

export class PublishAssetsError extends Error {
  public constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PublishAssetsError';
  }
}

/** The member manifests of a cloud assembly. */
export function readMemberManifests(assemblyDir: string): Array<{ file: string; manifest: MemberAssetsManifest }> {
  let names: string[];
  try {
    names = readdirSync(assemblyDir);
  } catch (err) {
    throw new PublishAssetsError(`${assemblyDir}: cannot read the cloud assembly folder (run \`cdk synth\` first)`, { cause: err });
  }
  const found = names.filter((n) => n.endsWith(MEMBER_ASSETS_MANIFEST_SUFFIX)).sort();
  if (found.length === 0) {
    throw new PublishAssetsError(`${assemblyDir}: no member stack manifest (*${MEMBER_ASSETS_MANIFEST_SUFFIX}); synthesize an app with an OrganizationShape first`);
  }
  return found.map((name) => {
    const file = join(assemblyDir, name);
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as MemberAssetsManifest;
    if (manifest.version !== 1 || !Array.isArray(manifest.files) || !Array.isArray(manifest.regions) || !manifest.template) {
      throw new PublishAssetsError(`${file}: not a manifest this version of Rotor understands`);
    }
    return { file, manifest };
  });
}

/** Uploads every object of every member manifest to every region's bucket; returns what it did. */
export async function publishAssets(options: PublishAssetsOptions): Promise<PublishedObject[]> {
  const results: PublishedObject[] = [];
  for (const { manifest } of readMemberManifests(options.assemblyDir)) {
    const entries = [...manifest.files, manifest.template];
    // Check every entry before the first upload: a stale assembly publishes nothing.
    for (const entry of entries) checkEntry(options.assemblyDir, entry);
    for (const region of manifest.regions) {
      const s3 = options.s3For(region);
      const bucket = OrganizationNames.assetBucket(manifest.bucketPrefix, region);
      try {
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (err) {
        throw new PublishAssetsError(
          `bucket ${bucket} (region ${region}) is missing or not yours: deploy the OrganizationShape's assets stack first (${(err as Error).name})`,
          { cause: err },
        );
      }
      for (const entry of entries) {
        const result = await publishEntry(s3, bucket, options.assemblyDir, entry);
        options.onObject?.(result);
        results.push(result);
      }
    }
  }
  return results;
}

function checkEntry(assemblyDir: string, entry: MemberAssetEntry): void {
  const path = join(assemblyDir, entry.path);
  let digest: string;
  try {
    digest = assetDigest(path);
  } catch (err) {
    throw new PublishAssetsError(`${entry.path}: missing from the cloud assembly (synthesize again)`, { cause: err });
  }
  if (digest !== entry.digest) {
    throw new PublishAssetsError(`${entry.path}: its content changed since synthesis (digest differs from the manifest's); synthesize again`);
  }
}

async function publishEntry(s3: S3Client, bucket: string, assemblyDir: string, entry: MemberAssetEntry): Promise<PublishedObject> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: entry.key }));
    return { bucket, key: entry.key, action: 'present', bytes: head.ContentLength ?? 0 };
  } catch (err) {
    if ((err as Error).name !== 'NotFound' && (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) {
      throw new PublishAssetsError(`s3://${bucket}/${entry.key}: cannot check for the object (${(err as Error).name})`, { cause: err });
    }
  }
  const path = join(assemblyDir, entry.path);
  const body = entry.packaging === 'zip' ? zipFolder(path) : readFileSync(path);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: entry.key,
      Body: body,
      ContentType: entry.packaging === 'zip' ? 'application/zip' : 'application/json',
      Metadata: { 'rotor-digest': entry.digest },
    }),
  );
  return { bucket, key: entry.key, action: 'uploaded', bytes: body.length };
}

/** Unix regular file, rw-r--r--: Lambda's runtime user must be able to read every file. */
const FILE_ATTRS = (0o100644 << 16) >>> 0;
/** Zip's earliest date: the archive's bytes depend on the files only. */
const FIXED_MTIME = new Date('1980-01-01T00:00:00Z');

/** A folder as a zip archive (paths relative to it, `/`-separated). */
export function zipFolder(dir: string): Uint8Array {
  if (!statSync(dir).isDirectory()) throw new PublishAssetsError(`${dir}: a zip asset must be a folder`);
  const files: Zippable = {};
  for (const file of listFiles(dir)) {
    const name = relative(dir, file).split(sep).join('/');
    files[name] = [readFileSync(file), { os: 3, attrs: FILE_ATTRS, mtime: FIXED_MTIME, level: 9 }];
  }
  return zipSync(files);
}
