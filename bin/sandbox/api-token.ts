import { createApiTokenKind } from '../../lambdas/api-token/apiTokenKind.js';
import { ALLOW_LOOPBACK_FOR_TESTS } from '../../lambdas/contract/testing.js';
import { RotorTags } from '../../lambdas/core/types.js';
import { Routes, TokenProviderServer, type Route } from '../local/tokenProvider.js';
import { nameOf, plural, printLabels, quietHandler, short, tagSecret, totals, type SandboxContext } from './common.js';
import { describeRetire, pastGraceWindow, resultFor, retireRun } from './retire.js';

interface TokenValue {
  provider: string;
  token: string;
  tokenId?: string;
  previousTokenId?: string;
}

/** The provider requests the emulator saw, as a person reading an access log would name them. */
const requestNames: Partial<Record<Route, string>> = {
  [Routes.DATADOG_CREATE]: 'POST /api/v2/api_keys',
  [Routes.DATADOG_VALIDATE]: 'GET /api/v1/validate',
  [Routes.DATADOG_DELETE]: 'DELETE /api/v2/api_keys/{id}',
  [Routes.CLOUDFLARE_ROLL]: 'PUT /user/tokens/{id}/value',
  [Routes.CLOUDFLARE_VERIFY]: 'GET /user/tokens/verify',
  [Routes.CLOUDFLARE_DELETE]: 'DELETE /user/tokens/{id}',
};

/**
 * API tokens against a local emulator of two providers' documented APIs, with its own token
 * table (so "refused" is the provider's answer): Datadog API keys, several live at once
 * (dual-active: a new key per rotation, the old one revoked by the retire run after the grace
 * window), and Cloudflare user tokens, rolled in place (roll-only: the old value dies at once).
 */
export async function apiTokenSandbox(ctx: SandboxContext): Promise<void> {
  // The emulator is on loopback over plain http: the local-test opt-in (no construct sets it),
  // and the emulator's host listed as the management secrets' allowedHosts.
  process.env[ALLOW_LOOPBACK_FOR_TESTS] = '1';
  const provider = await TokenProviderServer.start();
  ctx.defer('the token provider emulator', () => provider.close());
  ctx.print(
    `api-token: provider emulator at ${provider.url} (Datadog and Cloudflare API contracts, its own token table; ` +
      `${ALLOW_LOOPBACK_FOR_TESTS}=1, allowedHosts [${provider.host}])`,
  );
  const kind = createApiTokenKind();
  const handler = quietHandler(kind, ctx);
  let seenRequests = 0;
  /** The requests made since the last call, with their status: "POST /api/v2/api_keys 201, ...". */
  const requestsSince = () => {
    const fresh = provider.requests.slice(seenRequests);
    seenRequests = provider.requests.length;
    return fresh.map((r) => `${requestNames[r.route] ?? r.route} ${r.status}`).join(', ') || 'none';
  };
  const accepted = (token: string) => (provider.accepts(token) ? 'accepted' : 'refused');

  // Datadog: an API key, and the management secret (an API key + application key) that manages keys.
  const management = provider.datadogManagement();
  const ddManagement = await ctx.player.createSecret('sandbox/api-token/datadog-management', {
    ...management,
    allowedHosts: [provider.host],
  });
  const ddKey = provider.datadogApiKey('sandbox-app');
  const dd = await ctx.player.createSecret('sandbox/api-token/datadog', {
    provider: 'datadog',
    token: ddKey.token,
    tokenId: ddKey.tokenId,
    managementSecretArn: ddManagement,
    baseUrl: provider.datadogBaseUrl,
  });
  await tagSecret(ctx, dd, { [RotorTags.KIND]: 'api-token' });

  // Cloudflare: a user token, and a management token with "API Tokens Write".
  const manager = provider.cloudflareToken(true);
  const cfManagement = await ctx.player.createSecret('sandbox/api-token/cloudflare-management', {
    token: manager.token,
    allowedHosts: [provider.host],
  });
  const cfToken = provider.cloudflareToken();
  const cf = await ctx.player.createSecret('sandbox/api-token/cloudflare', {
    provider: 'cloudflare',
    token: cfToken.token,
    tokenId: cfToken.tokenId,
    managementSecretArn: cfManagement,
    baseUrl: provider.cloudflareBaseUrl,
  });
  await tagSecret(ctx, cf, { [RotorTags.KIND]: 'api-token' });

  const rotate = async (arn: string) => {
    const started = Date.now();
    const { token, outcomes } = await ctx.player.rotate(handler, arn);
    const ms = Date.now() - started;
    const now = await ctx.player.value<TokenValue>(arn);
    const { calls } = totals(outcomes);
    return { token, now, line: `${ms} ms, ${plural(calls, 'Secrets Manager call')}` };
  };

  ctx.print(`  datadog (dual-active): secret ${nameOf(dd)}, API key id ${ddKey.tokenId}; management secret ${nameOf(ddManagement)}`);
  const d = await rotate(dd);
  ctx.print(`    rotation: token ${short(d.token)} -> AWSCURRENT API key id ${d.now.tokenId}; ${d.line}`);
  ctx.print(`      provider requests: ${requestsSince()}`);
  ctx.print(`      new key ${accepted(d.now.token)}; old key (${ddKey.tokenId}) ${accepted(ddKey.token)}: both live until the retire run`);
  await printLabels(ctx, dd, '      ');

  ctx.print(`  cloudflare (roll-only): secret ${nameOf(cf)}, token id ${cfToken.tokenId}; management secret ${nameOf(cfManagement)}`);
  const c = await rotate(cf);
  ctx.print(
    `    rotation: token ${short(c.token)} -> AWSCURRENT token id ${c.now.tokenId}` +
      `${c.now.tokenId === cfToken.tokenId ? ' (same token, new value)' : ''}; ${c.line}`,
  );
  ctx.print(`      provider requests: ${requestsSince()}`);
  ctx.print(`      new value ${accepted(c.now.token)}; old value ${accepted(cfToken.token)}: the roll replaced it at createSecret`);
  await printLabels(ctx, cf, '      ');

  const open = await retireRun(ctx, new Date(), 'now');
  ctx.print(`    datadog: ${describeRetire(resultFor(open, dd))}; provider requests: ${requestsSince()}; old key ${accepted(ddKey.token)}`);
  const done = await retireRun(ctx, pastGraceWindow(resultFor(open, dd)), 'window end + 1 h');
  ctx.print(`    datadog: ${describeRetire(resultFor(done, dd))}; provider requests: ${requestsSince()}`);
  ctx.print(`      old key (${ddKey.tokenId}) ${accepted(ddKey.token)}; current key ${accepted(d.now.token)}`);
  ctx.print(
    `    cloudflare: ${describeRetire(resultFor(done, cf))}, nothing to revoke (roll-only: the roll already killed the old value); ` +
      `current value ${accepted(c.now.token)}`,
  );
}
