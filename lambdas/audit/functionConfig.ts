/**
 * Lambda's side of the audit: is a rotation function Rotor's? Its own module with static imports
 * (the audit loads it with import() at the first rotation function it meets), so the bundler
 * keeps only these parts of the Lambda SDK: an import() of the SDK package itself would keep all of it.
 */
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { AwsCredentialIdentity } from '@smithy/types';
import { isRotorFunction, type FunctionKind } from './audit.js';

export function lambdaClient(config: { region: string; profile?: string; credentials?: AwsCredentialIdentity }): LambdaClient {
  return new LambdaClient(config);
}

/** `rotor` when the function's environment says it is Rotor's, `missing` when it does not exist, `unknown` when it cannot be read. */
export async function functionKindOf(client: LambdaClient, functionArn: string): Promise<FunctionKind> {
  try {
    const out = await client.send(new GetFunctionConfigurationCommand({ FunctionName: functionArn }));
    return isRotorFunction(out.Environment?.Variables) ? 'rotor' : 'other';
  } catch (err) {
    return (err as Error).name === 'ResourceNotFoundException' ? 'missing' : 'unknown';
  }
}
