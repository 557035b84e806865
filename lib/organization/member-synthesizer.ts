import { Aws, FileAssetPackaging, Fn, Stage, StackSynthesizer, type DockerImageAssetLocation, type FileAssetLocation, type FileAssetSource, type ISynthesisSession } from 'aws-cdk-lib';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative } from 'node:path';
import { assetDigest } from './asset-digest.js';
import { MEMBER_ASSETS_MANIFEST_SUFFIX, OrganizationNames, type MemberAssetEntry, type MemberAssetsManifest } from './organization-config.js';

export interface OrganizationMemberSynthesizerProps {
  /** Buckets `<bucketPrefix>-<region>` hold the assets, one in each region the StackSet deploys to. */
  readonly bucketPrefix: string;
  /** The regions the StackSet deploys to (written to the manifest, for the publisher). */
  readonly regions: readonly string[];
}

/**
 * The synthesizer of the Organizations member stack, a StackSet template: no CDK bootstrap in the
 * member accounts, no lookups. File assets (Rotor's pre-built Lambda bundles, aws-cdk-lib's own
 * custom-resource handler) are referenced in the bucket `<prefix>-<region>` of the region the
 * stack instance runs in (`AWS::Region`), under a key named by their content digest; the template
 * is written to the cloud assembly but not as a deployable stack (the StackSet deploys it), with
 * a manifest listing every object for `npm run publish-assets` (bin/cli/publishAssets.ts).
 *
 * Rotor writes this small synthesizer instead of using cdk-stacksets' StackSetStack: that class
 * cannot be RotorStack (both are Stack subclasses), it publishes assets with a BucketDeployment
 * custom resource (a Python Lambda with the AWS CLI layer in the central stack), and it is
 * experimental (0.0.x). See README, "Many accounts".
 */
export class OrganizationMemberSynthesizer extends StackSynthesizer {
  private readonly files = new Map<string, MemberAssetEntry>();
  private templateEntry?: MemberAssetEntry;

  public constructor(private readonly props: OrganizationMemberSynthesizerProps) {
    super();
  }

  public addFileAsset(asset: FileAssetSource): FileAssetLocation {
    if (!asset.fileName) {
      throw new Error(`${this.boundStack.node.path}: a StackSet member stack takes file assets only (asset ${asset.sourceHash} has no file)`);
    }
    const outdir = Stage.of(this.boundStack)?.outdir ?? '.';
    const path = isAbsolute(asset.fileName) ? asset.fileName : join(outdir, asset.fileName);
    const zip = asset.packaging === FileAssetPackaging.ZIP_DIRECTORY;
    const digest = assetDigest(path);
    const key = OrganizationNames.assetKey(digest, zip ? '.zip' : extname(path));
    this.files.set(key, { key, path: relative(outdir, path), packaging: zip ? 'zip' : 'file', digest });
    const bucketName = Fn.join('-', [this.props.bucketPrefix, Aws.REGION]);
    return {
      bucketName,
      objectKey: key,
      httpUrl: Fn.join('', ['https://', bucketName, '.s3.', Aws.REGION, '.', Aws.URL_SUFFIX, '/', key]),
      s3ObjectUrl: Fn.join('', ['s3://', bucketName, '/', key]),
    };
  }

  public addDockerImageAsset(): DockerImageAssetLocation {
    throw new Error(
      `${this.boundStack.node.path}: a StackSet member stack cannot use Docker image assets (no ECR repository exists in the member accounts)`,
    );
  }

  public synthesize(session: ISynthesisSession): void {
    // The template only: no cloud assembly artifact, so `cdk deploy` never deploys it to the central account.
    this.synthesizeTemplate(session);
    const templatePath = join(session.outdir, this.boundStack.templateFile);
    const digest = assetDigest(templatePath);
    this.templateEntry = { key: OrganizationNames.templateKey(digest), path: this.boundStack.templateFile, packaging: 'file', digest };
    const manifest: MemberAssetsManifest = {
      version: 1,
      bucketPrefix: this.props.bucketPrefix,
      regions: [...this.props.regions],
      template: this.templateEntry,
      files: [...this.files.values()].sort((a, b) => a.key.localeCompare(b.key)),
    };
    const manifestPath = join(session.outdir, `${this.boundStack.artifactId}${MEMBER_ASSETS_MANIFEST_SUFFIX}`);
    mkdirSync(dirname(manifestPath), { recursive: true });
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }

  /**
   * The member template's object key, once the member stack is synthesized (it is, before the
   * stack that contains it: CDK synthesizes children first); before that (validation, aspects), a
   * placeholder that never reaches a template.
   */
  public get templateKey(): string {
    return this.templateEntry?.key ?? OrganizationNames.templateKey('pending-synthesis');
  }

  /** The synthesized member template (tests, and anyone who wants to read it). */
  public templateJson(outdir: string): unknown {
    return JSON.parse(readFileSync(join(outdir, this.boundStack.templateFile), 'utf8'));
  }
}
