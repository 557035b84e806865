import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CheckStatuses,
  PREFLIGHT_EVENT_TAG,
  preflightReportSchema,
  type PreflightEvent,
  type PreflightReport,
} from '../../lambdas/contract/index.js';
import { explainAwsError } from './aws.js';
import { describeSecret, type CommandContext } from './commands.js';
import { CliError, ExitCodes, type ExitCode } from './errors.js';
import { table } from './output.js';

export interface PreflightCommandOptions {
  readonly json: boolean;
}

/** What the operator's credentials need besides secretsmanager:DescribeSecret on the secret. */
export const PREFLIGHT_PERMISSION = 'lambda:InvokeFunction';

const AUTH_ERRORS = new Set(['AccessDeniedException', 'AccessDenied', 'UnrecognizedClientException', 'NotAuthorized']);

/**
 * `rotor preflight <secret>`: asks the secret's own rotation function to check whether the next
 * rotation would work (lambdas/core/preflight.ts), from the function's network and with its
 * permissions, and prints the report. Changes nothing. Reads no secret value here: the CLI sends
 * DescribeSecret and one Lambda Invoke; the report holds no value either. Exit 0 when every check
 * is ok or skipped, ATTENTION (4) when one is a problem (the report is printed in full).
 */
export async function preflightCommand(secretId: string, options: PreflightCommandOptions, ctx: CommandContext): Promise<ExitCode> {
  const { clients, out } = ctx;
  const described = await describeSecret(clients, secretId);
  const name = described.Name ?? secretId;
  const functionArn = described.RotationLambdaARN;
  if (!functionArn) {
    throw new CliError(
      `secret '${name}' has no rotation function: rotor preflight runs its checks inside the secret's rotation function. ` +
        "Deploy the secret's Rotor construct (or aws secretsmanager rotate-secret --rotation-lambda-arn <function>) first",
    );
  }
  const event: PreflightEvent = { rotor: PREFLIGHT_EVENT_TAG, secretId: described.ARN ?? secretId };
  // The same credentials (and profile) as every other client of this command; AWS_ENDPOINT_URL_LAMBDA
  // or AWS_ENDPOINT_URL, when set, point it at an emulator as the SDK resolves them.
  const lambda = new LambdaClient({ region: clients.region, credentials: clients.secrets.config.credentials });
  let answer;
  try {
    answer = await lambda.send(new InvokeCommand({ FunctionName: functionArn, InvocationType: 'RequestResponse', Payload: JSON.stringify(event) }));
  } catch (err) {
    const e = err as Error;
    if (AUTH_ERRORS.has(e.name)) {
      throw new CliError(
        `AWS refused invoking the rotation function ${functionArn} (${e.name}): your credentials need ${PREFLIGHT_PERMISSION} on that function`,
        { cause: err },
      );
    }
    if (e.name === 'ResourceNotFoundException') {
      throw new CliError(`secret '${name}' names rotation function ${functionArn}, which does not exist in ${clients.region}: redeploy the secret's Rotor construct`, {
        cause: err,
      });
    }
    throw explainAwsError(err, `invoking the rotation function ${functionArn} (Lambda Invoke)`, clients);
  } finally {
    lambda.destroy();
  }
  const text = answer.Payload ? Buffer.from(answer.Payload).toString('utf8') : '';
  let payload: unknown;
  try {
    payload = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new CliError(`the rotation function ${functionArn} answered something that is not JSON`);
  }
  if (answer.FunctionError) {
    const p = (payload ?? {}) as { errorType?: unknown; errorMessage?: unknown };
    const type = typeof p.errorType === 'string' ? p.errorType : answer.FunctionError;
    const message = typeof p.errorMessage === 'string' ? p.errorMessage : '';
    const old = type === 'InvalidEventError';
    throw new CliError(
      old
        ? `the rotation function ${functionArn} does not know preflight events (it answered ${type}: ${message}): it was deployed from a Rotor version before preflight; redeploy it`
        : `the rotation function ${functionArn} failed the preflight: ${type}: ${message}`,
    );
  }
  const parsed = preflightReportSchema.safeParse(payload);
  if (!parsed.success) {
    throw new CliError(`the rotation function ${functionArn} answered no preflight report: is it a Rotor rotation function?`);
  }
  const report = parsed.data;
  if (options.json) out.result({ ...report, functionArn });
  else render(report, name, functionArn, out.line);
  return report.ok ? ExitCodes.OK : ExitCodes.ATTENTION;
}

function render(report: PreflightReport, name: string, functionArn: string, line: (text?: string) => void): void {
  line(`Preflight of ${name} (${report.kind}${report.strategy ? `, ${report.strategy}` : ''}), run by ${functionArn}`);
  line();
  line(table(['CHECK', 'STATUS', 'DETAIL'], report.checks.map((c) => [c.check, c.status, c.detail])));
  const problems = report.checks.filter((c) => c.status === CheckStatuses.PROBLEM);
  line();
  if (problems.length === 0) {
    const skipped = report.checks.filter((c) => c.status === CheckStatuses.SKIPPED).length;
    line(`No problem found: ${report.checks.length - skipped} check(s) ok${skipped ? `, ${skipped} skipped` : ''}. Nothing was changed.`);
    return;
  }
  line(`${problems.length} problem(s). To fix:`);
  for (const p of problems) line(`  ${p.check}: ${p.fix ?? 'see the detail'}`);
  line('Nothing was changed.');
}
