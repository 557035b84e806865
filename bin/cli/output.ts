/**
 * How the CLI writes: lines for people on stdout, notes and errors on stderr, and in --json
 * mode one JSON document on stdout instead of the lines.
 */
export interface Output {
  readonly json: boolean;
  /** A line for people (stdout); dropped in --json mode, where the result says it all. */
  line(text?: string): void;
  /** A note on how the command is working or why it failed (stderr, in both modes). */
  note(text: string): void;
  /** The command's result (stdout, --json mode only). */
  result(value: unknown): void;
}

export const OUTPUT_FORMATS = ['json', 'table'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * The format a command prints in: `--json` or `--output` when given (both: they must agree),
 * else AWS_DEFAULT_OUTPUT as the AWS CLI reads it (`json` is JSON; `table`, `text`, `yaml` and
 * anything else are for people, so the table), else the table.
 */
export function resolveOutputFormat(
  given: { readonly json?: boolean; readonly output?: string },
  env: NodeJS.ProcessEnv = process.env,
): { format: OutputFormat; conflict?: string } {
  if (given.json && given.output !== undefined && given.output !== 'json') {
    return { format: 'json', conflict: `--json and --output ${given.output} disagree: pass one of them` };
  }
  if (given.json) return { format: 'json' };
  if (given.output !== undefined) return { format: given.output === 'json' ? 'json' : 'table' };
  const fromEnv = env.AWS_DEFAULT_OUTPUT?.trim().toLowerCase();
  return { format: fromEnv === 'json' ? 'json' : 'table' };
}

export interface Streams {
  readonly out: { write(text: string): unknown };
  readonly err: { write(text: string): unknown };
}

export function streamOutput(json: boolean, streams: Streams = { out: process.stdout, err: process.stderr }): Output {
  return {
    json,
    line(text = '') {
      if (!json) streams.out.write(`${text}\n`);
    },
    note(text) {
      streams.err.write(`${text}\n`);
    },
    result(value) {
      if (json) streams.out.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

/** A plain-text table: columns padded to their widest cell, two spaces apart. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(headers), ...rows.map(render)].join('\n');
}

// The audit's formatters (shared with the scheduled audit function).
export { formatDuration, formatTime } from '../../lambdas/audit/format.js';

/** The first 8 characters of a version id: enough to tell versions apart in a table. */
export function shortId(versionId: string | undefined): string {
  return versionId ? versionId.slice(0, 8) : '-';
}
