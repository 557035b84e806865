import { z } from 'zod';
import { ConfigurationError } from './errors';
import { Strategies, type PasswordPolicy, type Strategy } from './types';

/** Defaults of every setting the rotation functions read from their environment. */
export const defaults = {
  strategy: Strategies.SINGLE_USER,
  passwordLength: 32,
} as const;

export interface Settings {
  readonly strategy: Strategy;
  readonly passwordPolicy: PasswordPolicy;
}

const envSchema = z.object({
  ROTATION_STRATEGY: z
    .enum([Strategies.SINGLE_USER, Strategies.ALTERNATING_USERS])
    .default(defaults.strategy),
  PASSWORD_LENGTH: z.coerce.number().int().min(8).max(4096).optional(),
  EXCLUDE_CHARACTERS: z.string().optional(),
});

/**
 * Reads ROTATION_STRATEGY, PASSWORD_LENGTH and EXCLUDE_CHARACTERS, falling back to the kind's
 * password policy, and refuses a strategy the kind does not support.
 */
export function readSettings(
  env: NodeJS.ProcessEnv,
  kind: { name: string; strategies: readonly Strategy[]; passwordPolicy?: PasswordPolicy },
): Settings {
  const parsed = envSchema.safeParse({
    ROTATION_STRATEGY: env.ROTATION_STRATEGY || undefined,
    PASSWORD_LENGTH: env.PASSWORD_LENGTH || undefined,
    EXCLUDE_CHARACTERS: env.EXCLUDE_CHARACTERS,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigurationError(
      `${kind.name} rotation: environment variable ${String(issue?.path[0])} is invalid: ${issue?.message}`,
    );
  }
  const { ROTATION_STRATEGY, PASSWORD_LENGTH, EXCLUDE_CHARACTERS } = parsed.data;
  if (!kind.strategies.includes(ROTATION_STRATEGY)) {
    throw new ConfigurationError(
      `${kind.name} rotation: ROTATION_STRATEGY '${ROTATION_STRATEGY}' is not supported (supported: ${kind.strategies.join(', ')})`,
    );
  }
  return {
    strategy: ROTATION_STRATEGY,
    passwordPolicy: {
      length: PASSWORD_LENGTH ?? kind.passwordPolicy?.length ?? defaults.passwordLength,
      excludeCharacters: EXCLUDE_CHARACTERS ?? kind.passwordPolicy?.excludeCharacters ?? '',
    },
  };
}
