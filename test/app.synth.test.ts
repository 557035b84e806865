import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execOk } from './support/exec.js';

describe('cdk synth of the example app (examples/app/app.ts)', () => {
  it('synthesizes offline from the built package, deploying its pre-built Lambda bundles', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rotor-synth-'));
    try {
      await execOk('npx', ['cdk', 'synth', '--quiet', '--output', out], {
        cwd: join(__dirname, '..'),
        // No Docker on these machines: a bundling step (or a fallback to Docker) would fail here.
        env: { ...process.env, CDK_DOCKER: 'false-docker-is-not-used' },
        timeoutMs: 240_000,
      });
      const templates = readdirSync(out).filter((f) => f.endsWith('.template.json')).sort();
      // The main stack, and the Health event forwarders of us-east-1 and us-west-2.
      expect(templates).toEqual(['Rotor-health-us-east-1.template.json', 'Rotor-health-us-west-2.template.json', 'Rotor.template.json']);
      const template = JSON.parse(readFileSync(join(out, 'Rotor.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
      const types = Object.values(template.Resources).map((r) => r.Type);
      expect(types).toContain('AWS::SecretsManager::RotationSchedule');
      expect(types.filter((t) => t === 'AWS::SecretsManager::RotationSchedule')).toHaveLength(4);
      expect(types).toContain('AWS::Lambda::Function');
      const assets = readdirSync(out).filter((f) => f.startsWith('asset.'));
      expect(assets.length).toBeGreaterThan(0);
      for (const asset of assets) {
        if (existsSync(join(out, asset, 'index.js'))) {
          // The bundle is self-contained: loading it exports the handler.
          const exported = await execOk('node', ['-e', `const m=require(${JSON.stringify(join(out, asset, 'index.js'))});process.stdout.write(typeof m.handler)`], { timeoutMs: 60_000 });
          expect(exported).toBe('function');
        }
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});
