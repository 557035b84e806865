import type { KindContext, SecretVersion } from '../core/types.js';

/**
 * What the retire run hands a dual-active kind's `retire` and `lastUse` hooks besides the
 * AWSPREVIOUS value.
 *
 * AWSPREVIOUS is a version of the secret, and a version can be written by hand (PutSecretValue
 * with VersionStages), while the retire function may retire the keys and tokens of every
 * Rotor-managed secret. So before a hook acts on what the previous value names, it checks that
 * value against AWSCURRENT, the reference: the IAM kind refuses another user than AWSCURRENT's,
 * the API token kind refuses a token id the provider or AWSCURRENT does not vouch for.
 */
export interface RetireContext<S> extends KindContext {
  /**
   * AWSCURRENT as the run read it (the value the grace window was measured from). The retire run
   * always provides it; it is optional so that a kind's own tests can call a hook with a plain
   * KindContext, and a hook that needs it refuses (or reads it itself) without it.
   */
  readonly current?: SecretVersion<S>;
}
