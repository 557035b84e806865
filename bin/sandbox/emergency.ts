import type { SandboxContext } from './common';

export async function emergencySandbox(ctx: SandboxContext): Promise<void> {
  ctx.print('emergency: not yet');
}
