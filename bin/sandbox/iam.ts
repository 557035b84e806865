import type { SandboxContext } from './common';

export async function iamSandbox(ctx: SandboxContext): Promise<void> {
  ctx.print('iam: not yet');
}
