// mesh-run trust rotate --intermediate: everything checked before anything is written (the flags, the root and
// its key, whose cacerts each primary holds), then a run of kind trust-rotate recorded on the mesh. A --dry-run
// of a real mesh rehearses on a simulated copy that gets a throwaway root of its own, in a scratch directory: a
// rehearsal never signs anything with the real root.
import { X509Certificate } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig, TrustConfig } from '../shared/model.js';
import { stateDir } from '../store/location.js';
import { checkEnvironment, directRuntime } from './activities/environment-check.js';
import type { Inventory } from './activities/inventory.js';
import { SUBJECTS } from './activities/inventory.js';
import type { RootCa } from './activities/trust/ca-files.js';
import { TrustMaterialError } from './activities/trust/material.js';
import { rootFor, trustDirOf } from './activities/trust/rotation-files.js';
import { heldCacerts, usersCacerts } from './activities/trust-rotate.js';
import { openStore, realTools, type StoreLocation, toolsFor } from './composition.js';
import { DEFAULTS } from './config/config-defaults.js';
import { faultsFor, installedMesh, refuseUnfinished, rehearsalOf, startChange, type Target, targetOf, wantsRehearsal } from './day2-service.js';
import { inventoryOf } from './follow-up-deps.js';
import { removeRehearsalTrust } from './rehearsal-trust.js';
import type { PreparedRun } from './run-service.js';
import type { ProgressListener } from './runtime/progress-events.js';

export interface TrustRotateRequest {
  meshRef: string;
  intermediate: boolean;
  root: boolean;
  rootCert?: string;
  rootKey?: string;
  // Replace a cacerts that was there before mesh-run.
  force: boolean;
  // A real mesh: rehearse on a simulated copy of it instead.
  dryRun?: boolean;
  injections: string[];
  store: StoreLocation;
}

const PLAN = 'docs/trust-rotation.md';

// The flags alone: what to rotate, and the root as a pair of paths.
function checkFlags(request: TrustRotateRequest): void {
  if (request.root)
    throw new UsageError(
      `--root: rotating the root is not supported yet (a multi-phase rotation through a combined trust bundle: issue 31, item 3; ${PLAN} has the plan); --intermediate rotates the intermediates under the same root`,
    );
  if (!request.intermediate) throw new UsageError('trust rotate: say what to rotate: --intermediate (new intermediate CAs from the same root)');
  if ((request.rootCert === undefined) !== (request.rootKey === undefined))
    throw new UsageError(`${request.rootCert === undefined ? '--root-cert' : '--root-key'}: missing; --root-cert and --root-key name the root together`);
}

// The generated trust's key size and lifetime; for a caDir, the root's key size and the default lifetime.
function sizing(trust: TrustConfig | undefined, root: RootCa) {
  if (trust?.source === 'generate') return { keySize: trust.keySize, intermediateDays: trust.intermediateDays };
  const bits = new X509Certificate(root.certPem).publicKey.asymmetricKeyDetails?.modulusLength;
  const keySize = bits === 2048 || bits === 3072 || bits === 4096 ? bits : (DEFAULTS.trust.keySize as 2048 | 3072 | 4096);
  return { keySize, intermediateDays: DEFAULTS.trust.intermediateDays };
}

// Where the new intermediates' keys go: the mesh's trust directory, else a directory of mesh-run's own
// ($XDG_STATE_HOME/mesh-run/trust/<mesh>), made 0700; never beside a --root-cert in a folder of the user's.
function keysDirOf(trustDir: string | undefined, meshName: string): string {
  return trustDir ?? join(stateDir(), 'trust', meshName);
}

// Each directory a key is written into that is already there must be private: refused (exit 2, naming it)
// before anything runs, never chmod-ed (it may be the user's).
function checkKeysDirs(keysDir: string, config: MeshConfig): void {
  for (const primary of config.clusters.filter((c) => c.role === 'primary')) {
    const dir = join(keysDir, primary.name);
    if (existsSync(dir) && statSync(dir).mode & 0o077)
      throw new UsageError(`${dir}: open to others (mode ${(statSync(dir).mode & 0o777).toString(8)}); chmod 700 it: the new CA keys are written there`);
  }
}

// The rotation's config: the mesh as it stands, with how its new intermediates are made. The root is checked
// here (exit 2 naming the file), so a run never starts with a root it cannot sign with.
function rotationConfig(config: MeshConfig, request: TrustRotateRequest, meshName: string): MeshConfig {
  const trustDir = trustDirOf(config.trust);
  if (!trustDir && !request.rootCert)
    throw new UsageError(`--root-cert: mesh ${meshName} keeps no CA files (its trust: section names no outputDir or caDir); give --root-cert and --root-key`);
  const keysDir = keysDirOf(trustDir, meshName);
  // Absolute: a resume may run from another directory.
  const root = { ...(request.rootCert ? { rootCert: resolve(request.rootCert) } : {}), ...(request.rootKey ? { rootKey: resolve(request.rootKey) } : {}) };
  let ca: RootCa;
  try {
    ca = rootFor(root, trustDir);
  } catch (error) {
    if (error instanceof TrustMaterialError) throw new UsageError(error.message);
    throw error;
  }
  return { ...config, trustRotate: { ...root, keysDir, ...sizing(config.trust, ca), force: request.force } };
}

// A rehearsal signs under the copy's throwaway root, its keys in the same scratch directory.
function rehearsalRotation(config: MeshConfig, target: Target): MeshConfig {
  const own = target.trust;
  const spec = config.trustRotate;
  if (!own || !spec) throw new Error('a rehearsal rotation without its own trust');
  return { ...config, trust: own.trust, trustRotate: { keysDir: own.dir, keySize: 2048, intermediateDays: 730, force: spec.force } };
}

// Refuses (exit 3, naming it) a primary whose cacerts is a user's, unless --force; and a primary with none.
async function refuseUsersCacerts(config: MeshConfig, target: Target, inventory: Inventory, tools: Awaited<ReturnType<typeof toolsFor>>) {
  const rt = directRuntime(config, tools);
  const users: string[] = [];
  for (const primary of config.clusters.filter((c) => c.role === 'primary')) {
    if (target.rehearsal) {
      // The copy's cacerts is mesh-run's by construction: the journal says whose the real one is.
      const seen = inventory.before(primary.name, SUBJECTS.cacerts);
      if (seen?.present && seen.owner !== 'mesh-run') users.push(primary.name);
      continue;
    }
    const held = await heldCacerts(rt, { cluster: primary.name, context: primary.context }).catch((error: Error) => {
      throw new PreconditionError('unreachable', `cacerts on ${primary.name} cannot be read: ${error.message}`);
    });
    if (!held?.caCert)
      throw new PreconditionError(
        'no-cacerts',
        `${primary.name} holds no cacerts in istio-system: its istiod signs with its own CA, there is no intermediate to rotate`,
        {
          hint: 'plug in a common root first (install with trust:)',
        },
      );
    if (usersCacerts(held, inventory, primary.name)) users.push(primary.name);
  }
  if (users.length > 0 && !config.trustRotate?.force)
    throw new PreconditionError('cacerts-not-ours', `cacerts on ${users.join(', ')} was there before mesh-run (a user's): trust rotate does not replace it`, {
      hint: 'add --force to replace it with a mesh-run intermediate of the same root (journaled)',
    });
}

export async function prepareTrustRotate(request: TrustRotateRequest, listener?: ProgressListener): Promise<PreparedRun> {
  checkFlags(request);
  const store = await openStore(request.store, 'existing');
  let target: Target | undefined;
  try {
    const { mesh, run: base, config } = await installedMesh(store, request.meshRef, 'rotate the intermediates of');
    let rotated = rotationConfig(config, request, mesh.name);
    const rehearse = wantsRehearsal(base, request.dryRun);
    if (!rehearse) {
      await refuseUnfinished(store, mesh, 'revisions');
      await refuseUnfinished(store, mesh, 'certificates');
    }
    const faults = faultsFor(request.injections, rotated, 'trust-rotate', rehearse ? 'dry-run' : base.mode);
    target = targetOf(base);
    if (rehearse) {
      target = await rehearsalOf(store, config, config.clusters, { ownRoot: true });
      rotated = rehearsalRotation(rotated, target);
    } else checkKeysDirs(rotated.trustRotate?.keysDir as string, config);
    if (target.mode === 'real') await checkEnvironment(rotated, await realTools(rotated), false);
    const tools = await toolsFor(target.mode, rotated, store, target.world ?? '');
    await refuseUsersCacerts(rotated, target, await inventoryOf(store.runs, base.id), tools);
    const events = request.force
      ? [{ type: 'forced', detail: '--force: a cacerts that was there before mesh-run may be replaced by a mesh-run intermediate' }]
      : [];
    return await startChange(store, base, target, 'trust-rotate', rotated, faults, listener, events);
  } catch (error) {
    removeRehearsalTrust(target?.trust);
    await store.close();
    throw error;
  }
}
