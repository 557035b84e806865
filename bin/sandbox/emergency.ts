import { CreateAccessKeyCommand, CreateUserCommand, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { RotorTags } from '../../lambdas/core/types.js';
import type { EmergencyResult } from '../../lambdas/emergency/emergency.js';
import { createEmergencyHandler, emergencyKinds } from '../../lambdas/emergency/index.js';
import { createIamKind } from '../../lambdas/iam/iamKind.js';
import { postgresKind } from '../../lambdas/postgres/postgresKind.js';
import { captureEvents, eventsClient } from '../local/events.js';
import { lambdaContext, playRotations, type Handler } from '../local/harness.js';
import { createRotationFunction } from '../local/moto.js';
import { adminClient, pgLogin, testPassword, uniqueName } from '../local/postgres.js';
import { healthEvent, leakEvent } from '../local/leakEvents.js';
import { stsAnswer, type KeyPair } from './aws.js';
import { labels, mark, nameOf, quietHandler, quietLogger, sandboxMetrics, short, tagSecret, type SandboxContext } from './common.js';


/**
 * The emergency function as deployed (every kind it ships with; signing as the sandbox's
 * administrator) reacting to leak events, while the sandbox plays Secrets Manager: each
 * RotateSecret the function starts is carried out by the rotation function's four steps.
 */
export async function emergencySandbox(ctx: SandboxContext): Promise<void> {
  ctx.print('emergency: leak events to the emergency function as deployed; the sandbox runs the rotations RotateSecret starts');
  // RotateSecret names this function (the player's rotationLambdaArn); moto then rotates like AWS.
  await createRotationFunction(ctx.endpoint, 'rotor-rotation', ctx.admin);
  const bus = await captureEvents(ctx.endpoint, { source: ['rotor'] }, ctx.admin);
  const emergency = createEmergencyHandler({
    sm: ctx.client,
    events: eventsClient(ctx.endpoint, ctx.admin),
    kinds: emergencyKinds,
    logger: quietLogger('rotor-emergency'),
    metrics: sandboxMetrics(),
    pollIntervalMs: 50,
    waitTimeoutMs: 20_000,
  });

  /** Delivers an event while playing the rotations of the secret; the result and the time taken. */
  const deliver = async (arn: string, rotation: Handler, event: unknown) => {
    const service = playRotations(ctx.player, rotation, arn, 20);
    const started = Date.now();
    let results: EmergencyResult[];
    try {
      results = await emergency(event as never, lambdaContext('rotor-emergency'));
    } finally {
      await service.stop();
    }
    if (service.errors.length > 0) throw new Error(`a rotation step failed: ${(service.errors[0] as Error).message}`);
    return { result: results[0]!, ms: Date.now() - started, rotations: service.rotations };
  };
  const outcome = (r: EmergencyResult, ms: number, rotations: number) =>
    `${r.outcome} (via ${r.via}) in ${ms} ms from delivery; ${rotations} rotation${rotations === 1 ? '' : 's'} carried out, ` +
    `leaked version ${short(r.leakedVersionId)}, AWSCURRENT now ${short(r.currentVersionId)}`;
  const announced = async () => {
    const events = await bus.drain();
    return events.map((e) => `${e['detail-type']}`).join(', ') || 'none';
  };

  // PostgreSQL, alternating users: the leaked login is locked, not only replaced.
  const cluster = await ctx.postgres();
  const admin = await adminClient(cluster);
  ctx.defer('the PostgreSQL admin session (emergency)', () => admin.end());
  const username = uniqueName('leaky');
  const password = testPassword();
  await admin.query(`CREATE ROLE ${admin.escapeIdentifier(username)} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
  const master = await ctx.player.createSecret('sandbox/emergency/postgres-master', {
    engine: 'postgres',
    host: cluster.host,
    port: cluster.port,
    username: cluster.superuser.username,
    password: cluster.superuser.password,
  });
  const pgArn = await ctx.player.createSecret('sandbox/emergency/postgres-app', {
    engine: 'postgres',
    host: cluster.host,
    port: cluster.port,
    username,
    password,
    dbname: 'postgres',
    masterarn: master,
  });
  await tagSecret(ctx, pgArn, { [RotorTags.KIND]: 'postgres', [RotorTags.STRATEGY]: 'alternating-users' });
  const pgRotation = quietHandler(postgresKind, ctx, { ROTATION_STRATEGY: 'alternating-users' });
  await ctx.player.rotate(pgRotation, pgArn); // rotation configured and run once, as the construct leaves it
  type Login = { username: string; password: string };
  const leaked = await ctx.player.value<Login>(pgArn);
  const leakedVersion = await ctx.player.versionOf(pgArn, 'AWSCURRENT');
  const pgLogs = (l: Login) => pgLogin(cluster, l.username, l.password);
  ctx.print(
    `  postgres alternating-users: secret ${nameOf(pgArn)} (rotor:kind=postgres), rotated once; ` +
      `AWSCURRENT ${short(leakedVersion)} = ${leaked.username} (${mark(await pgLogs(leaked))}) is reported leaked`,
  );
  const event = leakEvent({ secretId: pgArn, reason: 'found in a public gist', reporter: 'sandbox' });
  const pg = await deliver(pgArn, pgRotation, event);
  const now = await ctx.player.value<Login>(pgArn);
  ctx.print(`    leak event (secretId, "found in a public gist") -> ${outcome(pg.result, pg.ms, pg.rotations)}`);
  ctx.print(`      leaked login ${leaked.username} ${mark(await pgLogs(leaked))}; new AWSCURRENT ${now.username} ${mark(await pgLogs(now))}`);
  ctx.print(`      labels: ${await labels(ctx, pgArn)} (AWSPREVIOUS removed: nothing falls back to the leaked value)`);
  ctx.print(`      announced on the bus: ${await announced()}`);
  const again = await deliver(pgArn, pgRotation, event);
  ctx.print(`    the same event delivered again (EventBridge delivers at least once) -> ${again.result.outcome}, ${again.rotations} rotations, ${again.ms} ms`);

  // IAM: AWS Health names only the access key id; the secret is found by its fingerprint tag.
  const user = uniqueName('sandbox-leaky').replace('_', '-');
  await ctx.iam.send(new CreateUserCommand({ UserName: user }));
  const first = (await ctx.iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
  const iamArn = await ctx.player.createSecret('sandbox/emergency/iam-key', {
    username: user,
    accessKeyId: first.AccessKeyId!,
    secretAccessKey: first.SecretAccessKey!,
  });
  await tagSecret(ctx, iamArn, { [RotorTags.KIND]: 'iam' });
  const iamRotation = quietHandler(createIamKind({ iam: ctx.iam }), ctx);
  await ctx.player.rotate(iamRotation, iamArn);
  const exposed = await ctx.player.value<KeyPair>(iamArn);
  ctx.print(
    `  iam: secret ${nameOf(iamArn)} (rotor:kind=iam) for user ${user}, rotated once; ` +
      `AWSCURRENT key ${exposed.accessKeyId} (STS: ${(await stsAnswer(ctx.endpoint, exposed)).text}) is exposed`,
  );
  const health = await deliver(iamArn, iamRotation, healthEvent([exposed.accessKeyId]));
  const replaced = await ctx.player.value<KeyPair>(iamArn);
  const keys = ((await ctx.iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata ?? [])
    .map((k) => `${k.AccessKeyId} ${k.Status}`)
    .join(', ');
  ctx.print(`    AWS Health AWS_RISK_CREDENTIALS_EXPOSED (access key id only) -> ${outcome(health.result, health.ms, health.rotations)}`);
  ctx.print(
    `      leaked key ${exposed.accessKeyId} ${(await stsAnswer(ctx.endpoint, exposed)).text}; ` +
      `new key ${replaced.accessKeyId} ${(await stsAnswer(ctx.endpoint, replaced)).text}`,
  );
  ctx.print(`      keys on the user: ${keys} (the rotation deleted the older key to make room, the revoke the leaked one)`);
  ctx.print(`      labels: ${await labels(ctx, iamArn)}`);
  ctx.print(`      announced on the bus: ${await announced()}`);
}
