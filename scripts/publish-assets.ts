import { S3Client } from '@aws-sdk/client-s3';
import { Command } from 'commander';
import { publishAssets, PublishAssetsError } from '../bin/cli/publishAssets.js';

/**
 * `npm run publish-assets -- [--assembly <cdk.out>]`: uploads the Organizations member stack's
 * Lambda code and template (the manifests `cdk synth` wrote into the cloud assembly) to the
 * buckets `<prefix>-<region>`, with the standard credential chain (the central account's) and
 * AWS_ENDPOINT_URL honoured (path-style addressing then, for a local emulator).
 */
const program = new Command('publish-assets')
  .description("upload the Organizations member stack's Lambda code and template to the asset buckets <prefix>-<region>")
  .option('--assembly <dir>', 'the cloud assembly `cdk synth` wrote', 'cdk.out')
  .action(async (opts: { assembly: string }) => {
    const clients = new Map<string, S3Client>();
    const s3For = (region: string) => {
      let client = clients.get(region);
      if (!client) clients.set(region, (client = new S3Client({ region, forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) })));
      return client;
    };
    try {
      const results = await publishAssets({
        assemblyDir: opts.assembly,
        s3For,
        onObject: (r) => process.stdout.write(`${r.action.padEnd(8)} s3://${r.bucket}/${r.key} (${r.bytes} bytes)\n`),
      });
      const uploaded = results.filter((r) => r.action === 'uploaded').length;
      process.stdout.write(`${results.length} objects: ${uploaded} uploaded, ${results.length - uploaded} already present\n`);
    } catch (err) {
      if (!(err instanceof PublishAssetsError)) throw err;
      process.stderr.write(`publish-assets: ${err.message}\n`);
      process.exitCode = 1;
    } finally {
      for (const client of clients.values()) client.destroy();
    }
  });

await program.parseAsync();
