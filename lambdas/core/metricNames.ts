/**
 * Names of the metrics Rotor's functions publish (namespace `Rotor`) that the CDK constructs
 * alarm on. No AWS SDK import: lib/ reads this module at synth time.
 */
export const RotorMetrics = {
  NAMESPACE: 'Rotor',
  /**
   * A credential was issued (an IAM key, an API token) but storing it as AWSPENDING failed
   * within the invocation: the log line of the same EMF record names the issued id. Dimensions:
   * service, kind.
   */
  PENDING_STORE_FAILED: 'PendingStoreFailed',
} as const;
