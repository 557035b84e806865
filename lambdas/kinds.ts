import { KIND_NAMES, KIND_TRAITS, type KindName, type KindTraits } from './contract/index.js';
import { apiTokenKind } from './api-token/apiTokenKind.js';
import type { RotationKind } from './core/types.js';
import { iamKind } from './iam/iamKind.js';
import { mysqlKind } from './mysql/mysqlKind.js';
import { postgresKind } from './postgres/postgresKind.js';

/**
 * The one registry of run-time kinds, by their `rotor:kind` tag (the contract's KindName, so a
 * kind missing here is a compile error). It imports kind modules only, never entry modules
 * (lambdas/<kind>/index.ts builds a handler, a logger, metrics and clients when imported).
 * The emergency handler revokes with every kind, the retire handler retires with the kinds
 * whose KIND_TRAITS say dualActive. Adding a kind: its folder, its construct, one line here
 * (and its traits in the contract).
 */
// `any`: each kind has its own value type; the drivers only pass a kind's values back to it.
export const kinds: Readonly<Record<KindName, RotationKind<any>>> = {
  postgres: postgresKind,
  mysql: mysqlKind,
  iam: iamKind,
  'api-token': apiTokenKind,
};

/** The registered kinds whose traits satisfy `test`, by their `rotor:kind` tag. */
export function kindsWhere(test: (traits: KindTraits) => boolean): Readonly<Partial<Record<KindName, RotationKind<any>>>> {
  return Object.fromEntries(KIND_NAMES.filter((name) => test(KIND_TRAITS[name])).map((name) => [name, kinds[name]]));
}
