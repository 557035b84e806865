import * as lambda from 'aws-cdk-lib/aws-lambda';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KIND_NAMES } from '../lambdas/contract/index.js';
import { packageRoot } from './package-root.js';

/**
 * Every Lambda bundle Rotor ships: one rotation function per kind (named after the kind, so a new
 * kind needs no line here), the emergency handler, the retire handler and the scheduled audit. The source of bundle
 * `name` is lambdas/<name>/index.ts; the package build (scripts/build.ts) bundles it once into
 * dist/lambdas/<name>/index.js, and the constructs deploy that folder as it is: a consumer's
 * synth runs no esbuild and no Docker, and needs no lock file.
 */
export const LAMBDA_BUNDLES = [...KIND_NAMES, 'emergency', 'retire', 'audit'] as const;
export type LambdaBundle = (typeof LAMBDA_BUNDLES)[number];

/** The handler of every bundle: index.js exports `handler`. */
export const LAMBDA_HANDLER = 'index.handler';

export const LambdaAssets = {
  /** The entry file a bundle is built from (the build and the bench read this). */
  sourceEntry: (name: LambdaBundle): string => join(packageRoot(), 'lambdas', name, 'index.ts'),
  /** The folder of the built bundle: index.js, and a package.json that says it is CommonJS. */
  directory: (name: LambdaBundle): string => join(packageRoot(), 'dist', 'lambdas', name),
  /** The pre-built bundle as Lambda code, with an error that says how to build it when it is missing. */
  code(name: LambdaBundle): lambda.Code {
    const dir = LambdaAssets.directory(name);
    if (!existsSync(join(dir, 'index.js'))) {
      throw new Error(
        `Rotor's Lambda bundle '${name}' is missing (${join(dir, 'index.js')}): the package ships it pre-built; ` +
          'in a checkout of Rotor itself, run `npm run build` first',
      );
    }
    return lambda.Code.fromAsset(dir);
  },
} as const;
