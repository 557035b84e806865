import { describe, expect, it } from 'vitest';
import { KIND_NAMES, KIND_TRAITS } from '../lambdas/contract/index.js';
import { kinds, kindsWhere } from '../lambdas/kinds.js';

describe('kind registry (lambdas/kinds.ts)', () => {
  it('holds every kind of the contract under its own name, with the strategies of its traits', () => {
    // Assess
    expect(Object.keys(kinds).sort()).toEqual([...KIND_NAMES].sort());
    for (const name of KIND_NAMES) {
      expect(kinds[name].name).toBe(name);
      expect([...kinds[name].strategies]).toEqual([...KIND_TRAITS[name].strategies]);
    }
  });

  it('gives the retire handler the dual-active kinds, each with a retire hook', async () => {
    // Act
    const { retireKinds } = await import('../lambdas/retire/index.js');
    // Assess
    const dualActive = KIND_NAMES.filter((name) => KIND_TRAITS[name].dualActive);
    expect(Object.keys(retireKinds).sort()).toEqual([...dualActive].sort());
    expect(Object.keys(kindsWhere((t) => t.dualActive)).sort()).toEqual([...dualActive].sort());
    for (const kind of Object.values(retireKinds)) expect(typeof kind.retire).toBe('function');
  });

  it('gives the emergency handler every kind, each able to revoke', async () => {
    const { emergencyKinds } = await import('../lambdas/emergency/index.js');
    expect(Object.keys(emergencyKinds).sort()).toEqual([...KIND_NAMES].sort());
    for (const kind of Object.values(emergencyKinds)) expect(typeof kind.revoke).toBe('function');
  });
});
