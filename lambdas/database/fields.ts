import * as z from 'zod/mini';
import '../contract/zodMessages.js';

/** Fields the database secrets of AWS's rotation templates share, as zod schemas. */

/** A TCP port, as a number or a numeric string. */
export const portField = z.pipe(
  z.union([z.number(), z.pipe(z.string().check(z.regex(/^\d+$/, 'must be a number')), z.transform(Number))], {
    error: 'must be a port number (1 to 65535), as a number or a numeric string',
  }),
  z.int().check(z.gte(1), z.lte(65535)),
);

/** A flag, as a boolean or the strings 'true' / 'false'. */
export const flagField = z.union([z.boolean(), z.pipe(z.enum(['true', 'false']), z.transform((v) => v === 'true'))]);

/** The longest DNS name (RFC 1035: 253 characters as written). */
export const MAX_HOST_CHARACTERS = 253;

/**
 * The database server's host name or IP address. A driver hands the field to the resolver as it
 * is, so anything that is no host name (quotes, spaces, NUL, newlines, a socket path, non-ASCII)
 * is refused here, before any lookup or connection: letters, digits and `. - _ : % [ ]` only
 * (IPv6 literals and zone ids included; an internationalised name in its `xn--` form).
 */
export const hostField = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(MAX_HOST_CHARACTERS, `must be at most ${MAX_HOST_CHARACTERS} characters`),
    z.regex(/^[A-Za-z0-9._:%[\]-]+$/, "must be a host name or an IP address (letters, digits and . - _ : only; an internationalised name in its xn-- form)"),
  );

/** The refinement every name sent in a driver's login packet needs: a NUL would end it early. */
export const noNul = (s: string): boolean => !s.includes('\u0000');
