import { Token } from 'aws-cdk-lib';
import type { Setting } from '../lambdas/contract/index.js';

/**
 * A function's environment entry for one contract setting: the setting names the variable and
 * validates the value at synth time. A value that is still a token (an ARN or name CDK resolves
 * at deploy time) cannot be checked here and is written as it is.
 */
export function writeSetting<T>(setting: Setting<T>, value: T | undefined): Record<string, string> {
  if ((typeof value === 'string' || typeof value === 'number') && Token.isUnresolved(value)) {
    return { [setting.name]: Token.asString(value) };
  }
  return setting.write(value);
}
