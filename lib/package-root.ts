import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's name in its package.json: how the folder the package was installed to is found. */
export const PACKAGE_NAME = 'rotor';

let cached: string | undefined;

/**
 * The folder of Rotor's package.json, found by walking up from this module. The same code runs
 * from the sources (lib/*.ts, one folder down), from the built package (dist/index.js, dist/bin/*)
 * and from a consumer's node_modules, so no fixed depth is assumed.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) {
      return (cached = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`Rotor could not find its own package.json (name "${PACKAGE_NAME}") above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The package's version (the CLI's --version). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
