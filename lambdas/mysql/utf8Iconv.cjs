// Stands in for iconv-lite in the MySQL driver's bundle (scripts/lambda-bundles.ts): its character
// set tables are ≈ 480 KiB, more than the rest of the driver. mysql2 asks iconv-lite only for a
// character set Node's Buffer cannot handle itself (mysql2/lib/parsers/string.js tries
// Buffer.isEncoding first), and Rotor logs in with charset utf8mb4 (lambdas/mysql/connection.ts):
// statements and results are utf8, which Buffer handles. The one other character set the server
// labels columns with is utf8mb3 (system tables and information_schema), which mysql2 decodes
// as 'cesu8'. utf8mb3 holds characters of the Basic Multilingual Plane only, whose CESU-8 and
// UTF-8 bytes are the same, so it is decoded as UTF-8, and a leading byte order mark is dropped
// as iconv-lite's decoder drops it. Any other character set is refused by name, so a change that
// needs one fails loudly instead of garbling text. (The sources and tests use the real iconv-lite;
// the bench's bundle steps rotate through this stand-in against the real MariaDB.)
'use strict';
const { StringDecoder } = require('node:string_decoder');

/** Character sets decoded as UTF-8: byte for byte the same for what the server sends in them. */
const AS_UTF8 = new Set(['cesu8']);
/** Decoders that drop a leading byte order mark, as iconv-lite's do by default. */
const BOM_AWARE = new Set(['utf8', 'utf-8', 'cesu8']);

function refuse(encoding) {
  return new Error(
    `character set '${String(encoding).slice(0, 40)}' is not in Rotor's MySQL bundle: it logs in with utf8mb4 ` +
      'and bundles no character set tables (iconv-lite), only what Node decodes itself (and utf8mb3 as UTF-8)',
  );
}

function name(encoding) {
  return String(encoding).toLowerCase();
}

function decoderEncoding(encoding) {
  const n = name(encoding);
  if (AS_UTF8.has(n)) return 'utf8';
  if (Buffer.isEncoding(n)) return n;
  throw refuse(encoding);
}

function encoderEncoding(encoding) {
  const n = name(encoding);
  if (Buffer.isEncoding(n)) return n;
  throw refuse(encoding);
}

function getDecoder(encoding, options = {}) {
  const decoder = new StringDecoder(decoderEncoding(encoding));
  let stripBom = BOM_AWARE.has(name(encoding)) && options.stripBOM !== false;
  return {
    write(buffer) {
      let text = decoder.write(buffer);
      if (stripBom && text.length > 0) {
        stripBom = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      return text;
    },
    end: () => decoder.end() || undefined,
  };
}

function getEncoder(encoding) {
  const n = encoderEncoding(encoding);
  return { write: (text) => Buffer.from(text, n), end: () => undefined };
}

module.exports = {
  encodingExists: (encoding) => AS_UTF8.has(name(encoding)) || Buffer.isEncoding(name(encoding)),
  getDecoder,
  getEncoder,
  decode(buffer, encoding, options) {
    const decoder = getDecoder(encoding, options);
    return decoder.write(Buffer.from(buffer)) + (decoder.end() ?? '');
  },
  encode: (text, encoding) => getEncoder(encoding).write(text),
};
