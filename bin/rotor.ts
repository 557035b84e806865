#!/usr/bin/env -S npx tsx
/**
 * `rotor`: the command line of Rotor (`npm run rotor -- <command>`).
 *
 *   rotor status [--json]                          every Rotor-managed secret and what needs attention
 *   rotor rotate <secret> [--leaked] [--json]      rotate now and wait, showing each step
 *   rotor leak --secret|--access-key-id|--fingerprint ...   report a leak to the emergency handler
 *
 * Standard AWS credential chain and region; AWS_ENDPOINT_URL points it at an emulator.
 * Exit codes: 0 ok, 1 failure, 2 usage. It never reads a secret value.
 */
// The SDK warns on Node 20 about its own future releases; that is noise in a CLI's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('./cli/program');
process.exitCode = await main(process.argv.slice(2));

export {};
