import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** At most this many files in one asset folder (a bound for the walk; Rotor's bundles hold a handful). */
const MAX_FILES = 10_000;

/**
 * The content digest of an asset (a file, or a folder: every file's path relative to it and its
 * bytes, in sorted order), sha256 in hex. The member stack's synthesizer names each object key by
 * it and the publisher recomputes it from what it uploads, so the template and the bucket agree
 * without trusting CDK's internal asset hash. Symbolic links are followed as files.
 */
export function assetDigest(path: string): string {
  const hash = createHash('sha256');
  if (statSync(path).isFile()) {
    hash.update('file\0').update(readFileSync(path));
    return hash.digest('hex');
  }
  for (const file of listFiles(path)) {
    const name = relative(path, file).split(sep).join('/');
    const bytes = readFileSync(file);
    hash.update(`${name}\0${bytes.length}\0`).update(bytes);
  }
  return hash.digest('hex');
}

/** Every file under `dir`, sorted by path (a bounded walk). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && statSync(full).isDirectory())) pending.push(full);
      else out.push(full);
      if (out.length > MAX_FILES) throw new Error(`${dir}: more than ${MAX_FILES} files; not an asset Rotor publishes`);
    }
  }
  return out.sort();
}
