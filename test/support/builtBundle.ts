import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Handler } from '../../bin/local/harness.js';
import { LambdaAssets, type LambdaBundle } from '../../lib/lambda-assets.js';

/**
 * The handler of a built Lambda bundle (dist/lambdas/<name>/index.js, made by the suite's global
 * setup), `require()`d as Lambda's runtime loads it: what the constructs deploy, with the
 * bundles' own stand-ins (the credential chain, mysql2's character sets) and lazy drivers.
 */
export function builtHandler(name: LambdaBundle): Handler {
  const file = join(LambdaAssets.directory(name), 'index.js');
  return (createRequire(import.meta.url)(file) as { handler: Handler }).handler;
}
