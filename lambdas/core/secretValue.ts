import * as z from 'zod/mini';
import '../contract/zodMessages.js';
import { Bounds } from '../contract/index.js';
import { SecretFormatError } from './errors.js';
import type { Redactor } from './redact.js';
import type { RotationKind } from './types.js';

/**
 * Decodes a secret string as JSON. The parser's own message quotes the input, which may hold a
 * credential, so it is not passed on: the error says where the JSON breaks, not what it holds.
 */
export function decodeJson(secretString: string | undefined, where: string): unknown {
  if (secretString === undefined || secretString === '') {
    throw new SecretFormatError(`${where}: value is empty`);
  }
  try {
    return JSON.parse(secretString);
  } catch (err) {
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new SecretFormatError(
      `${where}: value is not valid JSON${position ? ` (error at character ${position})` : ''}`,
    );
  }
}

/**
 * The `graceperiod` field of a dual-active kind's value (IAM keys, API tokens): hours, as a
 * number or a numeric string, within the contract's grace bounds.
 */
export const graceHoursField = z.pipe(
  z.union([z.number(), z.pipe(z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a number of hours')), z.transform(Number))]),
  z.number().check(z.gte(Bounds.graceHours.min), z.lte(Bounds.graceHours.max)),
);

/**
 * Validates a decoded secret against a zod schema and turns the first problem into an error
 * naming the field, never its value (zod issues carry the input, which is not used here).
 */
export function parseWith<T extends z.core.$ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SecretFormatError(`${where}: value must be a JSON object`);
  }
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.join('.') || '(value)';
    const present = issue.path.length > 0 && hasPath(value, issue.path);
    if (!present) return `field '${field}' is missing`;
    return `field '${field}' is invalid: ${issue.message}`;
  });
  throw new SecretFormatError(`${where}: ${problems.join('; ')}`);
}

function hasPath(value: unknown, path: PropertyKey[]): boolean {
  let node: unknown = value;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !(key in node)) return false;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node !== undefined && node !== null;
}

/**
 * A stored secret string as a kind's value: decoded, validated, and its sensitive strings
 * registered with the redactor so no error can carry them. `where` names the secret and version.
 */
export function readSecretValue<S>(
  kind: Pick<RotationKind<S>, 'parse' | 'sensitive'>,
  secretString: string | undefined,
  where: string,
  redactor: Redactor,
): S {
  const value = kind.parse(decodeJson(secretString, where), where);
  for (const s of kind.sensitive(value)) redactor.add(s);
  return value;
}

/** Whether two values hold the same credential (retire and revoke never act on such an old value). */
export function sharesCredential<S>(kind: Pick<RotationKind<S>, 'sensitive'>, a: S, b: S): boolean {
  const theirs = kind.sensitive(b);
  return kind.sensitive(a).some((s) => theirs.includes(s));
}
