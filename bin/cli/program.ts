import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createInterface } from 'node:readline/promises';
import { isatty } from 'node:tty';
import { RotorEvents } from '../../lambdas/contract/index.js';
import { packageVersion } from '../../lib/package-root.js';
import type { AwsClients, AwsOptions } from './aws.js';
import type { CommandContext } from './commands.js';
import {
  accountsDefaults,
  AUDIT_CONDITIONS,
  auditDefaults,
  FAIL_ON_CONDITIONS,
  parseAccounts,
  parseConditions,
  parseFailOn,
  parseRoleName,
  runDefaults,
  statusDefaults,
  waitDefaults,
  type FailOnCondition,
} from './defaults.js';
import { CliError, EXIT_CODE_HELP, ExitCodes, UsageError } from './errors.js';
import type { AccountSelection } from './accounts.js';
import type { LeakTarget } from './leak.js';
import { SCANNERS, type Scanner } from './scanReports.js';
import { OUTPUT_FORMATS, resolveOutputFormat, streamOutput, type Output, type Streams } from './output.js';

// The commands, and the AWS SDK they use, load when a command runs: `rotor --help` and a usage
// error load none of it.
const commands = () => import('./commands.js');

/** What the CLI runs with: the process's by default; tests of the program replace them. */
export interface CliIo {
  readonly streams: Streams;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly connect: (options: AwsOptions, env: NodeJS.ProcessEnv) => Promise<AwsClients>;
  /** Asks a yes/no question at the terminal; undefined when stdin is not a terminal. */
  readonly confirm?: (question: string) => Promise<boolean>;
}

/** Asks on stderr, reads the answer from stdin: only `y` or `yes` goes ahead (end of input is no). */
async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
    const answer = await Promise.race([rl.question(question), closed]);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}

export const processIo: CliIo = {
  streams: { out: process.stdout, err: process.stderr },
  env: process.env,
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  connect: async (options, env) => (await import('./aws.js')).connect(options, env),
  confirm: isatty(0) ? askOnTerminal : undefined,
};

function version(): string {
  try {
    return packageVersion();
  } catch {
    return 'unknown';
  }
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number of seconds greater than 0');
  return n;
}

function minutes(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of minutes, 0 or more');
  return n;
}

function time(value: string): Date {
  const d = new Date(value);
  if (value.trim() === '' || Number.isNaN(d.getTime())) throw new InvalidArgumentError('expected a time such as 2025-06-01T12:00Z');
  return d;
}

/** --accounts / --org / --role-name of `status` and `audit`: one account list, or none (the CLI's own account). */
const accountOptions = (cmd: Command) =>
  cmd
    .option('--accounts <ids>', "these accounts (12-digit ids, comma-separated), each read through its read role (--role-name); the CLI's own account with its own credentials")
    .option('--org', "every ACTIVE account of the Organization (Organizations ListAccounts: the management account or a delegated administrator), as --accounts")
    .option('--role-name <name>', `with --accounts or --org: the role to assume in each account (default: ${accountsDefaults.roleName}, the one Rotor's member stack creates)`);

function accountSelection(opts: { accounts?: string; org?: boolean; roleName?: string }): AccountSelection | undefined {
  if (opts.accounts !== undefined && opts.org) throw new UsageError('--accounts and --org: pass one of them');
  const roleName = opts.roleName === undefined ? accountsDefaults.roleName : parseRoleName(opts.roleName);
  if (opts.accounts !== undefined) return { accounts: parseAccounts(opts.accounts), roleName };
  if (opts.org) return { org: true, roleName };
  if (opts.roleName !== undefined) throw new UsageError('--role-name applies only with --accounts or --org');
  return undefined;
}

const sourceOption = () =>
  new Option('--source <source>', "the leak event's source (the emergency rule matches on it)").default(RotorEvents.SOURCE);
const busOption = () => new Option('--event-bus <name>', 'the event bus to send the leak event to').default(RotorEvents.BUS);

/**
 * Runs `rotor` with the given arguments (without `node` and the script) and returns the exit
 * code (ExitCodes: 0 ok, 1 failed, 2 usage, 3 timed out, 4 status --fail-on matched, 5 not confirmed).
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  // An ExitCode, or for `rotor run` the child's own exit code.
  let exitCode: number = ExitCodes.OK;
  let output: Output = streamOutput(false, io.streams);
  let clients: AwsClients | undefined;

  /** Connects (profile, region and credentials checked first), then runs the command. */
  const run = async (json: boolean, global: AwsOptions, command: (ctx: CommandContext) => Promise<number>) => {
    output = streamOutput(json, io.streams);
    clients = await io.connect(global, io.env);
    exitCode = await command({ clients, out: output, now: io.now, sleep: io.sleep, confirm: io.confirm });
  };
  const globals = (cmd: Command): AwsOptions => {
    const o = cmd.optsWithGlobals<{ region?: string; profile?: string }>();
    return { region: o.region, profile: o.profile };
  };
  /** JSON or the table: --json, --output, AWS_DEFAULT_OUTPUT (see resolveOutputFormat). */
  const jsonFor = (cmd: Command): boolean => {
    const o = cmd.optsWithGlobals<{ json?: boolean; output?: string }>();
    const { format, conflict } = resolveOutputFormat(o, io.env);
    output = streamOutput(format === 'json', io.streams);
    if (conflict) throw new UsageError(conflict);
    return format === 'json';
  };
  const exitCodesHelp = `\n${EXIT_CODE_HELP}`;

  const program = new Command('rotor')
    .description('Rotor: rotate AWS Secrets Manager secrets now, report leaks, and show the state of every Rotor-managed secret.')
    .version(version())
    .option('--region <region>', 'AWS region (default: AWS_REGION, the profile, AWS_DEFAULT_REGION)')
    .option('--profile <name>', 'AWS profile from the shared config files (default: AWS_PROFILE)')
    .addOption(
      new Option('--output <format>', 'json, or table for people (default: AWS_DEFAULT_OUTPUT when it is json, else table)').choices(
        OUTPUT_FORMATS,
      ),
    )
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.streams.out.write(s),
      writeErr: (s) => io.streams.err.write(s),
    })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `\nAWS_ENDPOINT_URL points every call at another endpoint (a local emulator).\n${EXIT_CODE_HELP}`,
    );

  const status = program
    .command('status')
    .description('every Rotor-managed secret (tagged rotor:kind): kind, strategy, last and next rotation, overdue, stuck AWSPENDING, grace of the previous value; reads no secret value')
    .option('--json', 'print JSON instead of a table (same as --output json)', false)
    .option('--at <time>', 'judge overdue, stuck and grace windows at this time instead of now (ISO 8601)', time)
    .option('--stuck-after <minutes>', 'an AWSPENDING version older than this is stuck', minutes, statusDefaults.stuckAfterMinutes)
    .option(
      '--fail-on <conditions>',
      `exit ${ExitCodes.ATTENTION} when any secret is in one of these conditions, comma-separated: ${FAIL_ON_CONDITIONS.join(', ')} (for cron and CI)`,
    )
    .addHelpText('after', exitCodesHelp);
  accountOptions(status).action(
    async (opts: { json: boolean; at?: Date; stuckAfter: number; failOn?: string; accounts?: string; org?: boolean; roleName?: string }, cmd: Command) => {
      const json = jsonFor(cmd);
      const failOn: FailOnCondition[] | undefined = opts.failOn === undefined ? undefined : parseFailOn(opts.failOn);
      const accounts = accountSelection(opts);
      const global = globals(cmd);
      if (accounts) {
        const { statusAccountsCommand } = await import('./status.js');
        await run(json, global, (ctx) =>
          statusAccountsCommand(
            { at: opts.at, stuckAfterMinutes: opts.stuckAfter, failOn, accounts, profile: global.profile, progress: !json && io.streams.err === process.stderr && process.stderr.isTTY === true },
            ctx,
          ),
        );
        return;
      }
      await run(json, global, (ctx) =>
        commands().then(({ statusCommand }) => statusCommand({ json, at: opts.at, stuckAfterMinutes: opts.stuckAfter, failOn }, ctx)),
      );
    },
  );

  program
    .command('rotate')
    .description('rotate a secret now and wait for it, showing each step; with --leaked, have the emergency handler rotate it and revoke the leaked value')
    .argument('<secret>', 'secret name or ARN')
    .option('--leaked', 'the current value leaked: send a leak event and wait for rotate-and-revoke', false)
    .option('--reason <text>', 'why (with --leaked): a finding, a ticket')
    .option('--timeout <seconds>', 'how long to wait', positiveSeconds, waitDefaults.timeoutSeconds)
    .option('--log-group <name>', "the rotation function's log group (default: from the function's configuration, else /aws/lambda/<function>)")
    .option('--source <source>', `the leak event's source, with --leaked (default: "${RotorEvents.SOURCE}")`)
    .option('--event-bus <name>', `the event bus, with --leaked (default: "${RotorEvents.BUS}")`)
    .option('--no-wait', 'start the rotation (or send the leak event) and return at once; follow it with rotor status')
    .option('-y, --yes', 'with --leaked: go ahead without asking (needed when stdin is not a terminal: scripts, CI)', false)
    .option('--json', 'print one JSON result instead of progress lines (same as --output json)', false)
    .addHelpText('after', exitCodesHelp)
    .action(
      async (
        secret: string,
        opts: {
          leaked: boolean;
          reason?: string;
          timeout: number;
          logGroup?: string;
          source?: string;
          eventBus?: string;
          wait: boolean;
          yes: boolean;
          json: boolean;
        },
        cmd: Command,
      ) => {
        const json = jsonFor(cmd);
        // Checked before connecting: a wrong command line is a usage error whatever the AWS setup.
        const { checkRotateOptions, rotateCommand } = await commands();
        checkRotateOptions(opts);
        if (!opts.wait) {
          for (const [flag, name] of [['--timeout', 'timeout'], ['--log-group', 'logGroup']] as const) {
            if (cmd.getOptionValueSource(name) === 'cli') throw new UsageError(`${flag} applies only when waiting (not with --no-wait)`);
          }
        }
        if (opts.yes && !opts.leaked) throw new UsageError('--yes applies only with --leaked (a plain rotation asks nothing)');
        await run(json, globals(cmd), (ctx) =>
          rotateCommand(
            secret,
            {
              json,
              wait: opts.wait,
              yes: opts.yes,
              leaked: opts.leaked,
              reason: opts.reason,
              timeoutSeconds: opts.timeout,
              logGroup: opts.logGroup,
              source: opts.source,
              eventBus: opts.eventBus,
            },
            ctx,
          ),
        );
      },
    );

  program
    .command('leak')
    .description(
      'report a leaked credential: send the "Secret Leak Detected" event the emergency handler acts on; name exactly one of --access-key-id, ' +
        '--secret, --fingerprint, or hand over a scanner\'s report with --from <scanner> <report-file> (its values are fingerprinted here, never sent)',
    )
    .argument('[report-file]', 'with --from: the scanner\'s report (gitleaks JSON report, trufflehog JSON lines, GitHub secret-scanning alerts JSON)')
    .addOption(new Option('--from <scanner>', 'read a secret scanner\'s report: one leak event per value a Rotor-managed secret holds').choices(SCANNERS))
    .option('--access-key-id <id>', 'an IAM access key id (AKIA..., ASIA...)')
    .option('--secret <secret>', 'a secret name or ARN')
    .option('--fingerprint <fp>', "the leaked value's fingerprint: keyed, k1: + 32 hex digits (as Rotor tags secrets), or a legacy 32 hex digits")
    .option('--fingerprint-key-secret <secret>', "with --from: Rotor's fingerprint key secret (name or ARN) (default: every secret tagged rotor:fingerprint-key)")
    .option('--reason <text>', 'why: a finding, a ticket')
    .addOption(sourceOption())
    .addOption(busOption())
    .option('-y, --yes', 'go ahead without asking (needed when stdin is not a terminal: scripts, CI)', false)
    .option('--json', 'print the sent event as JSON (same as --output json)', false)
    .addHelpText('after', exitCodesHelp)
    .action(
      async (
        reportFile: string | undefined,
        opts: {
          accessKeyId?: string;
          secret?: string;
          fingerprint?: string;
          fingerprintKeySecret?: string;
          from?: Scanner;
          reason?: string;
          source: string;
          eventBus: string;
          yes: boolean;
          json: boolean;
        },
        cmd: Command,
      ) => {
        const json = jsonFor(cmd);
        if (opts.from !== undefined || reportFile !== undefined) {
          if (opts.from === undefined) throw new UsageError(`${reportFile}: name the scanner that wrote it with --from (${SCANNERS.join(', ')})`);
          if (reportFile === undefined) throw new UsageError(`--from ${opts.from}: name the report file`);
          const other = (['accessKeyId', 'secret', 'fingerprint'] as const).find((k) => opts[k] !== undefined);
          if (other) throw new UsageError('--from reads the values from the report: do not also name --access-key-id, --secret or --fingerprint');
          const { leakReportCommand } = await import('./leakReport.js');
          const scanner = opts.from;
          await run(json, globals(cmd), (ctx) =>
            leakReportCommand(
              {
                scanner,
                file: reportFile,
                reason: opts.reason,
                source: opts.source,
                eventBus: opts.eventBus,
                yes: opts.yes,
                fingerprintKeySecret: opts.fingerprintKeySecret,
              },
              ctx,
            ),
          );
          return;
        }
        if (opts.fingerprintKeySecret !== undefined) throw new UsageError('--fingerprint-key-secret is for --from: the other forms send what they name as given');
        const given = (
          [
            ['--access-key-id', opts.accessKeyId],
            ['--secret', opts.secret],
            ['--fingerprint', opts.fingerprint],
          ] as const
        ).filter(([, v]) => v !== undefined);
        if (given.length !== 1) {
          throw new UsageError(
            `name exactly one of --access-key-id, --secret, --fingerprint` +
              (given.length ? ` (got ${given.map(([flag]) => flag).join(' and ')})` : ''),
          );
        }
        const target: LeakTarget =
          opts.secret !== undefined
            ? { secretId: opts.secret }
            : opts.accessKeyId !== undefined
              ? { accessKeyId: opts.accessKeyId }
              : { fingerprint: opts.fingerprint! };
        // The detail is checked before connecting (a malformed key id is a usage error).
        const [{ leakDetail }, { leakCommand }] = await Promise.all([import('./leak.js'), commands()]);
        leakDetail(target, opts.reason);
        await run(json, globals(cmd), (ctx) =>
          leakCommand({ json, target, reason: opts.reason, source: opts.source, eventBus: opts.eventBus, yes: opts.yes }, ctx),
        );
      },
    );

  const audit = program
    .command('audit')
    .description(
      'every secret of the account and region (not only Rotor\'s; --all-regions: every enabled region) and the IAM users\' access keys: ' +
        'rotation off, never rotated, overdue against its own schedule, last rotation failed, stuck AWSPENDING, rotation function missing or not ' +
        'Rotor\'s, replicas out of sync, access keys older than --key-max-age days that no secret holds; reads no secret value',
    )
    .option('--json', 'print JSON instead of a table (same as --output json)', false)
    .option('--all-regions', 'every region enabled in the account (EC2 DescribeRegions), not only --region', false)
    .option('--regions <list>', 'these regions, comma-separated, instead of --region')
    .option('--at <time>', 'judge overdue and stuck at this time instead of now (ISO 8601)', time)
    .option('--stuck-after <minutes>', 'an AWSPENDING version older than this is stuck', minutes, auditDefaults.stuckAfterMinutes)
    .option('--key-max-age <days>', 'report IAM access keys older than this that no secret holds', minutes, auditDefaults.keyMaxAgeDays)
    .option('--no-iam', 'skip the IAM access keys')
    .option('--fail-on <conditions>', `exit ${ExitCodes.ATTENTION} when anything is in one of these conditions, comma-separated: ${AUDIT_CONDITIONS.join(', ')} (for cron and CI); with --accounts/--org an account that cannot be read counts too`)
    .addHelpText('after', exitCodesHelp);
  accountOptions(audit).action(
      async (
        opts: {
          json: boolean;
          allRegions: boolean;
          regions?: string;
          at?: Date;
          stuckAfter: number;
          keyMaxAge: number;
          iam: boolean;
          failOn?: string;
          accounts?: string;
          org?: boolean;
          roleName?: string;
        },
        cmd: Command,
      ) => {
        const json = jsonFor(cmd);
        const accounts = accountSelection(opts);
        if (opts.allRegions && opts.regions !== undefined) throw new UsageError('--all-regions and --regions: pass one of them');
        const failOn = opts.failOn === undefined ? undefined : parseConditions(opts.failOn, AUDIT_CONDITIONS);
        const regions = opts.regions?.split(',').map((r) => r.trim()).filter(Boolean);
        if (regions && regions.length === 0) throw new UsageError('--regions: name at least one region');
        const global = globals(cmd);
        const { auditCommand } = await import('./audit.js');
        await run(json, global, (ctx) =>
          auditCommand(
            {
              json,
              allRegions: opts.allRegions,
              regions,
              at: opts.at,
              stuckAfterMinutes: opts.stuckAfter,
              keyMaxAgeDays: opts.keyMaxAge,
              iam: opts.iam,
              failOn,
              // Progress for a person watching a terminal; none in JSON mode or in a pipe.
              progress: !json && io.streams.err === process.stderr && process.stderr.isTTY === true,
              profile: global.profile,
              accounts,
            },
            { region: ctx.clients.region, out: ctx.out, now: ctx.now, endpoint: ctx.clients.endpoint },
          ),
        );
      },
    );

  program
    .command('preflight')
    .description(
      "a dry run of the secret's next rotation, run by its rotation function (its network, its permissions): the target answers, the " +
        'current credential logs in, the master holds what the strategy needs, KMS decrypts, room for a new key, the provider and its ' +
        'management credential, password settings the consumers accept; changes nothing (needs lambda:InvokeFunction on the function)',
    )
    .argument('<secret>', 'secret name or ARN')
    .option('--json', 'print the report as JSON (same as --output json)', false)
    .addHelpText('after', exitCodesHelp)
    .action(async (secret: string, _opts: { json: boolean }, cmd: Command) => {
      const json = jsonFor(cmd);
      const { preflightCommand } = await import('./preflight.js');
      await run(json, globals(cmd), (ctx) => preflightCommand(secret, { json }, ctx));
    });

  program
    .command('run')
    .description(
      'run a command with secrets in its environment: values of the form rotor://<secret-id>#<field> (or rotor://<secret-id> for the whole ' +
        'secret string), in --env-file or in the environment, become the secret\'s AWSCURRENT values in the child\'s environment only; ' +
        'signals pass through and rotor exits with the command\'s exit code',
    )
    .argument('<command...>', 'the command and its arguments, after -- (everything after -- is the command\'s)')
    .option('--env-file <file>', 'a dotenv template (KEY=value lines) whose values may hold references')
    .option('--watch', "follow rotations: look at the referenced secrets' AWSCURRENT versions and restart the command when one moves", false)
    .option('--interval <seconds>', 'with --watch: seconds between two looks', positiveSeconds, runDefaults.intervalSeconds)
    .option('--reload-signal <signal>', 'with --watch: send this signal (e.g. SIGHUP) instead of restarting; the command re-reads by itself')
    .option('--restart-signal <signal>', 'with --watch: the signal that stops the command for a restart', runDefaults.restartSignal)
    .option('--stop-timeout <seconds>', 'with --watch: seconds the command has to exit after the restart signal before it is killed', positiveSeconds, runDefaults.stopTimeoutSeconds)
    .addHelpText('after', `\nExit code: the command's own (128 + the signal's number when a signal ended it); 1 or 2 when rotor could not start it.\nExample: rotor run --env-file .env.tpl --watch -- node server.js\n  .env.tpl: DATABASE_URL=postgres://rotor://prod/orders/app#username:rotor://prod/orders/app#password@db.internal/orders`)
    .action(
      async (
        command: string[],
        opts: { envFile?: string; watch: boolean; interval: number; reloadSignal?: string; restartSignal: string; stopTimeout: number },
        cmd: Command,
      ) => {
        const { parseSignal, runCommand } = await import('./run.js');
        for (const [flag, name] of [['--interval', 'interval'], ['--reload-signal', 'reloadSignal'], ['--restart-signal', 'restartSignal'], ['--stop-timeout', 'stopTimeout']] as const) {
          if (!opts.watch && cmd.getOptionValueSource(name) === 'cli') throw new UsageError(`${flag} applies only with --watch`);
        }
        const options = {
          envFile: opts.envFile,
          watch: opts.watch,
          intervalSeconds: opts.interval,
          reloadSignal: opts.reloadSignal === undefined ? undefined : parseSignal(opts.reloadSignal),
          restartSignal: parseSignal(opts.restartSignal),
          stopTimeoutSeconds: opts.stopTimeout,
        };
        await run(false, globals(cmd), (ctx) => runCommand(command, options, { client: ctx.clients.secrets, env: io.env, out: ctx.out, sleep: ctx.sleep }));
      },
    );

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed the message (or the help) already.
      exitCode = err.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
    } else if (err instanceof CliError) {
      const hint = err instanceof UsageError ? ' (run with --help for usage)' : '';
      output.note(`rotor: ${err.message}${hint}`);
      output.result({ error: { name: err.name, message: err.message, exitCode: err.exitCode } });
      exitCode = err.exitCode;
    } else {
      const e = err instanceof Error ? err : new Error(String(err));
      output.note(`rotor: unexpected error: ${e.name}: ${e.message}`);
      output.result({ error: { name: e.name, message: e.message, exitCode: ExitCodes.FAILURE } });
      exitCode = ExitCodes.FAILURE;
    }
  } finally {
    clients?.destroy();
  }
  return exitCode;
}
