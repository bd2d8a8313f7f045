// mesh-run plan's request: which mesh a plan rehearses (a config file, or a mesh of the journal with --mesh,
// for every kind) and what the kind's flags change in it, checked as the run itself checks them.
import type { RunKind } from '../machines/steps.js';
import { UsageError } from '../shared/errors.js';
import type { MeshConfig } from '../shared/model.js';
import type { StoreLocation } from './composition.js';
import { loadConfig } from './config/mesh-config.js';
import { applyOverrides, type ConfigOverrides, hasOverrides } from './config/overrides.js';
import { joinedConfig, leavingConfig, meshConfigOf, rotationConfig } from './day2-service.js';
import { KINDS } from './kinds/registry.js';
import { DEFAULT_WAVE_SIZE, plannedUpgradeConfig } from './upgrade-service.js';

// What the flags of one kind change, as typed.
export interface PlanChange {
  name?: string;
  role?: 'primary' | 'remote';
  network?: string;
  controlPlane?: string;
  apiServer?: string;
  cluster?: string;
  revision?: string;
  namespaces?: string;
  waveSize?: string;
  keepOld?: boolean;
  // repair: only these drift kinds.
  only?: string[];
  // repair: as repair --force, a cacerts that holds another CA replaced with the mesh's (cacerts-changed).
  force?: boolean;
}

export interface PlanRequest {
  kind: RunKind;
  configPath?: string;
  meshRef?: string;
  // --context and --kubeconfig (a cluster add's own context among them: --context <ctx> or <name>=<ctx>).
  overrides: ConfigOverrides;
  change: PlanChange;
  store: StoreLocation;
}

// Each change flag and the kinds it goes with.
const CHANGE_FLAGS: ReadonlyArray<{ field: keyof PlanChange; flag: string; kinds: readonly RunKind[] }> = [
  { field: 'name', flag: '--name', kinds: ['cluster-add', 'cluster-remove'] },
  { field: 'role', flag: '--role', kinds: ['cluster-add'] },
  { field: 'network', flag: '--network', kinds: ['cluster-add'] },
  { field: 'controlPlane', flag: '--control-plane', kinds: ['cluster-add'] },
  { field: 'apiServer', flag: '--api-server', kinds: ['cluster-add'] },
  { field: 'cluster', flag: '--cluster', kinds: ['secrets-rotate'] },
  { field: 'revision', flag: '--revision', kinds: ['upgrade', 'upgrade-rollback'] },
  { field: 'namespaces', flag: '--namespaces', kinds: ['upgrade', 'upgrade-rollback'] },
  { field: 'waveSize', flag: '--wave-size', kinds: ['upgrade', 'upgrade-rollback'] },
  { field: 'keepOld', flag: '--keep-old', kinds: ['upgrade', 'upgrade-rollback'] },
  { field: 'only', flag: '--only', kinds: ['repair'] },
  { field: 'force', flag: '--force', kinds: ['repair'] },
];

// A change flag given to a kind it does not go with: refused (exit 2), naming the kinds it goes with.
export function checkChangeFlags({ kind, change }: Pick<PlanRequest, 'kind' | 'change'>): void {
  for (const { field, flag, kinds } of CHANGE_FLAGS) {
    if (change[field] !== undefined && !kinds.includes(kind)) throw new UsageError(`${flag}: goes with ${kinds.map((k) => `plan ${k}`).join(' or ')}`);
  }
}

// The config the plan rehearses: the mesh with the change the kind makes, refused (exit 2) as the run would.
export async function plannedConfig(request: PlanRequest): Promise<MeshConfig> {
  const { kind, change } = request;
  checkChangeFlags(request);
  if (request.meshRef !== undefined && request.configPath !== undefined) throw new UsageError('--mesh and --config: give one of them');
  const needs = KINDS[kind].plan.needs;
  if (needs && change[needs.field] === undefined) throw new UsageError(`plan ${kind}: ${needs.flag} is required (${needs.what})`);
  // A cluster add's own context is not an override of the mesh: it is the joining cluster's.
  const name = change.name;
  const contexts = request.overrides.contexts ?? [];
  const own = name !== undefined ? contexts.filter((c) => !c.includes('=') || c.startsWith(`${name}=`)) : [];
  if (KINDS[kind].mesh === 'leaves' && own.length > 0) throw new UsageError(`--context ${own[0]}: plan ${kind} takes the contexts of the mesh as they are`);
  const overrides = { ...request.overrides, contexts: contexts.filter((c) => !own.includes(c)) };
  return PLANNED_CHANGE[kind](await baseConfig(request, overrides), { ...request, own });
}

type PlannedChange = (base: MeshConfig, request: PlanRequest & { own: string[] }) => MeshConfig | Promise<MeshConfig>;

// What each kind's flags change in the mesh it is planned on (a kind without a change plans the mesh as it is).
const PLANNED_CHANGE: Readonly<Record<RunKind, PlannedChange>> = {
  install: (base) => base,
  adopt: () => {
    throw new UsageError(
      'plan adopt: an adoption changes nothing on the clusters; "mesh-run mesh discover" shows what it reads, "mesh-run mesh adopt --dry-run" rehearses it',
    );
  },
  verify: (base) => base,
  'verify-links': (base) => base,
  uninstall: (base) => base,
  'cluster-remove': (base, { change }) => leavingConfig(base, change.name as string),
  'cluster-add': (base, { change, own }) => {
    const name = change.name as string;
    if (own.length > 1) throw new UsageError(`--context: ${name} is given ${own.length} contexts; give it one`);
    return joinedConfig(base, {
      name,
      context: own[0]?.replace(`${name}=`, '') ?? name,
      role: change.role ?? 'remote',
      ...(change.network !== undefined ? { network: change.network } : {}),
      ...(change.controlPlane !== undefined ? { controlPlane: change.controlPlane } : {}),
      ...(change.apiServer !== undefined ? { apiServer: change.apiServer } : {}),
    });
  },
  'secrets-rotate': (base, { change, meshRef }) => rotationConfig(base, change.cluster, meshRef ?? base.meshID),
  upgrade: (base, { change }) => upgradeChange(base, 'upgrade', change),
  'upgrade-rollback': (base, { change }) => upgradeChange(base, 'upgrade-rollback', change),
  // What a repair does depends on what drifted: plan-repair.ts checks first, then rehearses.
  repair: () => {
    throw new UsageError('plan repair: give --mesh M (a repair is planned from what drifted on a mesh of the journal, not from a config)');
  },
  drift: () => {
    throw new UsageError('plan drift: a drift check changes nothing on the clusters; "mesh-run drift --mesh M" runs it');
  },
  'trust-rotate': () => {
    throw new UsageError(
      'plan trust-rotate: a rotation mints new CA keys, which a plan does not; "mesh-run trust rotate --mesh M --intermediate --dry-run" rehearses it on a simulated copy of a real mesh',
    );
  },
};

function upgradeChange(base: MeshConfig, kind: 'upgrade' | 'upgrade-rollback', change: PlanChange): Promise<MeshConfig> | MeshConfig {
  const waveSize = change.waveSize === undefined ? DEFAULT_WAVE_SIZE : /^\d+$/.test(change.waveSize) ? Number(change.waveSize) : Number.NaN;
  return plannedUpgradeConfig(base, kind, {
    revision: change.revision as string,
    ...(change.namespaces !== undefined ? { namespaces: change.namespaces } : {}),
    waveSize,
    keepOld: Boolean(change.keepOld),
  });
}

// The mesh as it stands: --mesh from the journal (with the contexts it recorded), or the config file (or the
// page's defaults) with --context and --kubeconfig applied.
async function baseConfig(request: PlanRequest, overrides: ConfigOverrides): Promise<MeshConfig> {
  if (request.meshRef === undefined) return applyOverrides(loadConfig(request.configPath), overrides).config;
  if (hasOverrides(overrides)) throw new UsageError('--context <cluster>=<context> and --kubeconfig go with --config; --mesh uses what the journal recorded');
  return meshConfigOf(request.meshRef, request.store);
}
