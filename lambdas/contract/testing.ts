/**
 * The one switch that lets a Rotor function talk to local emulators: plain http and loopback
 * hosts (127.0.0.0/8, ::1, localhost) are refused as provider hosts unless the function's
 * environment sets this variable to `1`. Only tests and the sandbox set it; every Rotor CDK
 * construct refuses to synthesize a function whose environment holds it (lib/rotor-function.ts).
 *
 * No imports: deploy time (lib/) and run time (lambdas/) both read the name from here.
 */
export const ALLOW_LOOPBACK_FOR_TESTS = 'ROTOR_ALLOW_LOOPBACK_FOR_TESTS';

/** Whether an environment opts in to http and loopback hosts for local tests (exactly `1`). */
export function loopbackAllowedForTests(env: Readonly<Record<string, string | undefined>>): boolean {
  return env[ALLOW_LOOPBACK_FOR_TESTS] === '1';
}
