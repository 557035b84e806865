import * as z from 'zod';

/** Fields the database secrets of AWS's rotation templates share, as zod schemas. */

/** A TCP port, as a number or a numeric string. */
export const portField = z
  .union([z.number(), z.string().regex(/^\d+$/, 'must be a number').transform(Number)])
  .pipe(z.number().int().min(1).max(65535));

/** A flag, as a boolean or the strings 'true' / 'false'. */
export const flagField = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
