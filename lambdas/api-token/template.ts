/**
 * The small template language of the generic HTTP provider: `{{token}}`, `{{tokenId}}`,
 * `{{rotation}}` (the rotation's ClientRequestToken) and `{{management.<field>}}` (a field of
 * the management secret), in URLs, header values and the string leaves of a JSON body; and a
 * small JSON path (`$.data.items[0].key`) to find the token and its id in a response.
 */

const PLACEHOLDER = /\{\{\s*([A-Za-z][\w.-]*)\s*\}\}/g;

export const Placeholders = {
  TOKEN: 'token',
  TOKEN_ID: 'tokenId',
  ROTATION: 'rotation',
  MANAGEMENT_PREFIX: 'management.',
} as const;

export interface TemplateVars {
  readonly token?: string;
  readonly tokenId?: string;
  readonly rotation?: string;
  readonly management?: Readonly<Record<string, string>>;
}

/** Every placeholder name used in a string, a JSON value or a record of them. */
export function placeholdersIn(value: unknown): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(PLACEHOLDER)) found.add(m[1]!);
    } else if (Array.isArray(v)) {
      v.forEach(walk);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, inner] of Object.entries(v)) {
        walk(k);
        walk(inner);
      }
    }
  };
  walk(value);
  return [...found];
}

/** Whether a placeholder name is one the language knows. */
export function isKnownPlaceholder(name: string): boolean {
  return (
    name === Placeholders.TOKEN ||
    name === Placeholders.TOKEN_ID ||
    name === Placeholders.ROTATION ||
    (name.startsWith(Placeholders.MANAGEMENT_PREFIX) && name.length > Placeholders.MANAGEMENT_PREFIX.length)
  );
}

function lookup(name: string, vars: TemplateVars): string {
  let value: string | undefined;
  if (name === Placeholders.TOKEN) value = vars.token;
  else if (name === Placeholders.TOKEN_ID) value = vars.tokenId;
  else if (name === Placeholders.ROTATION) value = vars.rotation;
  else if (name.startsWith(Placeholders.MANAGEMENT_PREFIX)) {
    value = vars.management?.[name.slice(Placeholders.MANAGEMENT_PREFIX.length)];
  }
  if (value === undefined) throw new TemplateError(`placeholder {{${name}}} has no value here`);
  return value;
}

export class TemplateError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** Fills a string; `encode` applies to each substituted value (encodeURIComponent for URLs). */
export function renderString(template: string, vars: TemplateVars, encode: (s: string) => string = (s) => s): string {
  return template.replace(PLACEHOLDER, (_, name: string) => encode(lookup(name, vars)));
}

/** Fills every string leaf of a JSON value (so values are JSON-escaped when serialised). */
export function renderJson(value: unknown, vars: TemplateVars): unknown {
  if (typeof value === 'string') return renderString(value, vars);
  if (Array.isArray(value)) return value.map((v) => renderJson(v, vars));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [renderString(k, vars), renderJson(v, vars)]));
  }
  return value;
}

/** Fills a URL template, URL-encoding each substituted value. */
export function renderUrl(template: string, vars: TemplateVars): string {
  return renderString(template, vars, encodeURIComponent);
}

const PATH_STEP = /^(?:\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\])/;

/** Parses `$.a.b[0]['c d']` (the leading `$` is optional) into steps; throws on anything else. */
export function parseJsonPath(path: string): Array<string | number> {
  let rest = path.trim();
  if (rest.startsWith('$')) rest = rest.slice(1);
  else if (rest && !rest.startsWith('.') && !rest.startsWith('[')) rest = `.${rest}`;
  const steps: Array<string | number> = [];
  while (rest.length > 0) {
    const m = PATH_STEP.exec(rest);
    if (!m) throw new TemplateError(`JSON path '${path.slice(0, 80)}' is not of the form $.field[0].field`);
    steps.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : m[3]!));
    rest = rest.slice(m[0].length);
  }
  if (steps.length === 0) throw new TemplateError('JSON path is empty');
  return steps;
}

/** The value at a JSON path, or undefined. */
export function atJsonPath(value: unknown, path: string): unknown {
  let node: unknown = value;
  for (const step of parseJsonPath(path)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[step];
  }
  return node;
}
