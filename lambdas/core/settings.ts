import { resolveStrategy, SettingError, settings as contract, type Setting } from '../contract/index.js';
import { ConfigurationError } from './errors.js';
import type { PasswordPolicy, Strategy } from './types.js';

/** Defaults of the settings the engine reads (the strategy's is the contract's one rule, resolveStrategy). */
export const defaults = {
  strategy: contract.strategy.default ?? resolveStrategy(''),
  passwordLength: 32,
} as const;

export interface Settings {
  readonly strategy: Strategy;
  readonly passwordPolicy: PasswordPolicy;
}

/**
 * Reads one setting through the contract (lambdas/contract/settings.ts); a bad value becomes a
 * ConfigurationError that names the function and the variable, never the value.
 */
export function readSetting<T>(setting: Setting<T>, env: Readonly<Record<string, string | undefined>>, what: string): T | undefined {
  try {
    return setting.read(env);
  } catch (err) {
    if (err instanceof SettingError) throw new ConfigurationError(`${what}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * Reads ROTATION_STRATEGY, PASSWORD_LENGTH and EXCLUDE_CHARACTERS (the contract's settings),
 * falling back to the kind's password policy, and refuses a strategy the kind does not support.
 */
export function readSettings(
  env: Readonly<Record<string, string | undefined>>,
  kind: { name: string; strategies: readonly Strategy[]; passwordPolicy?: PasswordPolicy },
): Settings {
  const what = `${kind.name} rotation`;
  const strategy = resolveStrategy(kind.name, { stated: readSetting(contract.strategy, env, what) });
  const length = readSetting(contract.passwordLength, env, what);
  // Set but empty means "exclude nothing": the kind's policy applies only when it is absent.
  const exclude = readSetting(contract.excludeCharacters, env, what);
  if (!kind.strategies.includes(strategy)) {
    throw new ConfigurationError(
      `${what}: ${contract.strategy.name} '${strategy}' is not supported (supported: ${kind.strategies.join(', ')})`,
    );
  }
  return {
    strategy,
    passwordPolicy: {
      length: length ?? kind.passwordPolicy?.length ?? defaults.passwordLength,
      excludeCharacters: exclude ?? kind.passwordPolicy?.excludeCharacters ?? '',
    },
  };
}
