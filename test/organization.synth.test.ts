import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execOk } from './support/exec.js';

describe('cdk synth of the example Organizations app (examples/organization/app.ts)', () => {
  it('synthesizes offline from the built package with cdk-nag: the central stacks, and the member template with its manifest', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rotor-org-synth-'));
    try {
      // What `npm run synth:org` runs after the build (the suite's setup built the package).
      await execOk('npx', ['cdk', 'synth', '--quiet', '--app', 'npx tsx examples/organization/app.ts', '--output', out], {
        cwd: join(__dirname, '..'),
        env: { ...process.env, CDK_DOCKER: 'false-docker-is-not-used' },
        timeoutMs: 300_000,
      });
      const files = readdirSync(out);
      expect(files.filter((f) => f.endsWith('.template.json')).sort()).toEqual([
        'RotorOrganization-assets.template.json',
        'RotorOrganization-health-us-east-1.template.json',
        'RotorOrganization-health-us-west-2.template.json',
        'RotorOrganization.template.json',
        'RotorOrganizationMemberE6E7785A.template.json',
      ]);
      const manifest = JSON.parse(readFileSync(join(out, 'RotorOrganizationMemberE6E7785A.rotor-assets.json'), 'utf8')) as { template: { key: string } };
      const central = readFileSync(join(out, 'RotorOrganization.template.json'), 'utf8');
      expect(central).toContain(`https://example-rotor-assets-eu-west-1.s3.eu-west-1.amazonaws.com/${manifest.template.key}`);
      // Only the four central-account stacks are deployable; the member template is the StackSet's.
      const assembly = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { type: string }> };
      const stacks = Object.entries(assembly.artifacts).filter(([, a]) => a.type === 'aws:cloudformation:stack').map(([id]) => id).sort();
      expect(stacks).toEqual(['RotorOrganization', 'RotorOrganization-assets', 'RotorOrganization-health-us-east-1', 'RotorOrganization-health-us-west-2']);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 360_000);
});
