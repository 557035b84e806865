import type { SandboxContext } from './common';

export async function apiTokenSandbox(ctx: SandboxContext): Promise<void> {
  ctx.print('api-token: not yet');
}
