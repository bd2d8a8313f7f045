// Every run kind's module, by kind: the engine asks these instead of branching on a kind's name. A new kind
// is a new entry here (the compiler asks for it once the kind is in shared/model.ts's RUN_KINDS).
import type { RunKind } from '../../machines/steps.js';
import { adoptKind } from './adopt.js';
import { clusterAddKind } from './cluster-add.js';
import { clusterRemoveKind } from './cluster-remove.js';
import { driftKind } from './drift.js';
import { installKind } from './install.js';
import type { KindModule } from './kind-module.js';
import { repairKind } from './repair.js';
import { secretsRotateKind } from './secrets-rotate.js';
import { uninstallKind } from './uninstall.js';
import { upgradeKind } from './upgrade.js';
import { upgradeRollbackKind } from './upgrade-rollback.js';
import { verifyKind } from './verify.js';
import { verifyLinksKind } from './verify-links.js';

export type { KindModule, MeshRole } from './kind-module.js';

export const KINDS: Readonly<Record<RunKind, KindModule>> = {
  install: installKind,
  adopt: adoptKind,
  verify: verifyKind,
  'verify-links': verifyLinksKind,
  uninstall: uninstallKind,
  'cluster-add': clusterAddKind,
  'cluster-remove': clusterRemoveKind,
  'secrets-rotate': secretsRotateKind,
  upgrade: upgradeKind,
  'upgrade-rollback': upgradeRollbackKind,
  repair: repairKind,
  drift: driftKind,
};

// The module of a kind read from a row (the store keeps kinds as text; an unknown one is refused earlier).
export function kindOf(kind: string): KindModule {
  const found = (KINDS as Record<string, KindModule | undefined>)[kind];
  if (!found) throw new Error(`unknown run kind "${kind}"`);
  return found;
}

// The kind that takes runs of `kind` back (an upgrade's rollback), if any.
export function reversalOf(kind: RunKind): RunKind | undefined {
  return Object.values(KINDS).find((k) => k.reverses === kind)?.kind;
}

// Runs whose success changes the mesh's membership or revision: the mesh's record follows them.
export function changesMembership(kind: string): boolean {
  const found = (KINDS as Record<string, KindModule | undefined>)[kind];
  return found !== undefined && found.mesh !== 'acts-on';
}
