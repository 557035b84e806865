/**
 * `rotor`: the command line of Rotor (`npm run rotor -- <command>`).
 *
 *   rotor status [--fail-on overdue,stuck]          every Rotor-managed secret and what needs attention
 *   rotor rotate <secret> [--leaked [--yes]] [--no-wait]   rotate now and wait, showing each step
 *   rotor leak --secret|--access-key-id|--fingerprint ... [--yes]   report a leak to the emergency handler
 *   rotor run [--env-file .env.tpl] [--watch] -- cmd args...       run a command with secrets in its environment
 *
 * Global: --region, --profile, --output json|table (--json; AWS_DEFAULT_OUTPUT). Standard AWS
 * credential chain and region; AWS_ENDPOINT_URL points it at an emulator. Exit codes: 0 ok,
 * 1 failed, 2 usage, 3 timed out (may still finish), 4 status --fail-on matched, 5 not confirmed
 * (see EXIT_CODE_HELP in cli/errors.ts). Only `run` reads secret values, into its child's
 * environment; no command prints one.
 */
// The SDK warns on Node 20 about its own future releases; that is noise in a CLI's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('./cli/program.js');
process.exitCode = await main(process.argv.slice(2));

export {};
