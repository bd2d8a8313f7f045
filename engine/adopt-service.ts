// mesh-run mesh adopt: a mesh mesh-run did not install becomes a mesh of the journal. Its clusters are read
// first (as "mesh discover" reads them; nothing is recorded while anything is wrong), then the adoption is
// recorded as a run of its own, whose steps journal what each cluster runs as there before mesh-run.
import { stringify } from 'yaml';
import type { ClusterTools } from '../adapters/cluster-tools.js';
import { PreconditionError, UsageError } from '../shared/errors.js';
import type { MeshConfig, RunMode } from '../shared/model.js';
import type { Store } from '../store/contract.js';
import { type DiscoveryFinding, type DiscoveryReport, deriveMesh } from './activities/discovered-mesh.js';
import { discoverClusters } from './activities/mesh-discovery.js';
import { faultSeed, newWorldSeed, openStore, realTools, type StoreLocation, toolsFor, worldSettings } from './composition.js';
import { hashText } from './config/config-file.js';
import { parseFaultSpec } from './config/fault-specs.js';
import { meshTopology } from './config/mesh-shape.js';
import type { ConfigOverrides } from './config/overrides.js';
import { clustersToRead } from './discover-service.js';
import { buildMeshByHand } from './hand-built-mesh.js';
import { workflowOf } from './kinds/workflows.js';
import { claimNewRun, preparedNewRun } from './new-run.js';
import type { PreparedRun } from './prepared-run.js';
import { listMeshes } from './run-queries.js';
import type { ProgressListener } from './runtime/progress-events.js';
import { newRunId } from './runtime/run-ids.js';

export interface AdoptRequest {
  // The mesh's name in mesh-run: its meshID.
  name: string;
  configPath?: string;
  overrides?: ConfigOverrides;
  // Simulated clusters: those of `world` in the store, or (no world) a new world where the config's mesh is
  // built by hand first, as Istio's pages would have someone build it.
  dryRun: boolean;
  world?: string;
  // Record blocking findings and adopt what is coherent anyway.
  acceptFindings: boolean;
  // Failures to inject into the simulated clusters' adoption steps (dry runs).
  injections: string[];
  store: StoreLocation;
}

export interface PreparedAdoption {
  report: DiscoveryReport & { target: string };
  prepared: PreparedRun;
}

const MESH_ID = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

// The blocking findings refuse the adoption (exit 3), one line each, unless --accept-findings records them.
function refuseFindings(findings: DiscoveryFinding[], accept: boolean): void {
  const blocking = findings.filter((f) => f.level === 'blocking');
  if (blocking.length === 0 || accept) return;
  throw new PreconditionError('adopt-findings', blocking.map((f) => `${f.message} (hint: ${f.hint})`).join('\n'), {
    hint: `${blocking.length === 1 ? 'fix it' : `fix the ${blocking.length} findings`} and adopt again, or pass --accept-findings to adopt the clusters that fit and record ${blocking.length === 1 ? 'it' : 'them'}`,
  });
}

// The config the adoption records: the mesh as discovered, with the file's tools, timeouts and trust.
export function adoptedConfig(name: string, base: MeshConfig, report: DiscoveryReport, findings: DiscoveryFinding[]): MeshConfig {
  const primaries = report.config.clusters.filter((c) => c.role === 'primary');
  if (primaries.length === 0) {
    throw new PreconditionError('adopt-nothing', `no istiod on any of the given clusters: there is no mesh to adopt`, {
      hint: 'give the clusters of a running mesh ("mesh-run mesh discover" shows what they run), or install one with "mesh-run install"',
    });
  }
  const meshID = report.config.meshID;
  if (meshID !== undefined && meshID !== name)
    throw new UsageError(`--name ${name}: the mesh's istiod runs with meshID ${meshID}, and mesh-run names a mesh by its meshID; give --name ${meshID}`);
  if (meshID === undefined)
    findings.push({
      level: 'warning',
      message: `istiod sets no meshID (Istio then uses the trust domain); mesh-run records the mesh as ${name}`,
      hint: `clusters mesh-run adds get meshID ${name}: set values.global.meshID=${name} on the control planes so all agree`,
    });
  const { revision: _revision, subject: _subject, upgrade: _upgrade, trust, ...rest } = base;
  // The mesh's root is someone else's: a root mesh-run would generate is not it. Only the operator's own CA
  // files (trust.caDir) can sign a primary that joins later.
  if (trust?.source === 'generate')
    findings.push({
      level: 'warning',
      message: "the config's trust: section asks mesh-run to generate a root, but this mesh's root was made elsewhere: not kept",
      hint: 'to add primaries later, give trust: {caDir: <dir>} with the CA files behind the cacerts the primaries hold',
    });
  // Where the primaries dial a cluster: what its remote secrets carry (discovery keeps that only where it
  // differs from the kubeconfig's address), else the config's apiServer. Dropping the config's would leave
  // every later remote secret (rotate, cluster add) to the kubeconfig's address, which may be loopback.
  const given = new Map(base.clusters.flatMap((c) => (c.apiServer ? [[c.name, c.apiServer] as const] : [])));
  return {
    ...rest,
    ...(trust?.source === 'files' ? { trust } : {}),
    meshID: name,
    ...(report.config.revision ? { revision: report.config.revision } : {}),
    clusters: report.config.clusters.map((c) => {
      const apiServer = c.apiServer ?? given.get(c.name);
      return {
        name: c.name,
        context: c.context,
        role: c.role,
        network: c.network,
        ...(c.controlPlane ? { controlPlane: c.controlPlane } : {}),
        ...(apiServer ? { apiServer } : {}),
      };
    }),
  };
}

// A mesh of the journal on the same clusters that is not removed: adopting it again would make two of one.
async function refuseKnown(store: Store, config: MeshConfig, mode: RunMode, world: string | undefined): Promise<void> {
  const contexts = new Set(config.clusters.map((c) => c.context));
  for (const mesh of await listMeshes(store.runs)) {
    if (mesh.state === 'removed' || mesh.mode !== mode || mesh.meshID !== config.meshID) continue;
    const founder = await store.runs.getRun(mesh.createdBy);
    const same = mode === 'dry-run' ? founder?.simWorld === world : mesh.clusters.some((c) => contexts.has(c.context));
    if (!same) continue;
    throw new PreconditionError(
      'mesh-known',
      `mesh ${mesh.name} on these clusters is already in this journal (run ${mesh.createdBy}): there is nothing to adopt`,
      {
        hint: `its day-2 verbs work on it as it is ("mesh-run meshes" shows it)`,
      },
    );
  }
}

// Where the clusters are read: the real ones; a world of the store (--sim-world); or a new world, in memory
// until the adoption is recorded, where the config's mesh is built by hand first.
async function readFrom(request: AdoptRequest, base: MeshConfig, store: Store, world: string): Promise<{ tools: ClusterTools; scratch?: Store }> {
  if (!request.dryRun) return { tools: await realTools(base) };
  if (request.world !== undefined) {
    if (!(await worldSettings(store, request.world))) throw new UsageError(`--sim-world ${request.world}: no simulated clusters of that name in this database`);
    return { tools: await toolsFor('dry-run', base, store, request.world) };
  }
  const scratch = await openStore({ kind: 'sqlite', path: ':memory:' }, 'create');
  const seed = newWorldSeed(world, base, { loadBalancerDelayMs: 0 }, [], Date.now());
  if (seed.world) await scratch.worlds.putWorld(world, seed.world.settingsJson);
  const tools = await toolsFor('dry-run', base, scratch, world);
  await buildMeshByHand(base, tools);
  return { tools, scratch };
}

export async function prepareAdopt(request: AdoptRequest, listener?: ProgressListener): Promise<PreparedAdoption> {
  if (!MESH_ID.test(request.name) || request.name.length > 63)
    throw new UsageError(`--name "${request.name.slice(0, 70)}": a mesh name is its meshID: letters, digits, '-', '_' and '.', at most 63`);
  if (request.world !== undefined && !request.dryRun) throw new UsageError('--sim-world: goes with --dry-run (it names simulated clusters)');
  const { config: base, target } = clustersToRead(request);
  const faults = request.injections.map((spec) => parseFaultSpec(spec, base, 'adopt'));
  if (faults.length > 0 && !request.dryRun) throw new UsageError('--inject-failure only applies to simulated clusters; add --dry-run');
  const mode: RunMode = request.dryRun ? 'dry-run' : 'real';
  const store = await openStore(request.store, request.world !== undefined ? 'existing' : 'create');
  let scratch: Store | undefined;
  try {
    const runId = newRunId();
    const world = request.world ?? runId;
    const read = await readFrom(request, base, store, world);
    scratch = read.scratch;
    const report = { target: request.dryRun ? `the simulated clusters of ${target}` : target, ...deriveMesh(await discoverClusters(base, read.tools)) };
    const findings = [...report.findings];
    const config = adoptedConfig(request.name, base, report, findings);
    report.findings = findings;
    refuseFindings(findings, request.acceptFindings);
    await refuseKnown(store, config, mode, request.dryRun ? world : undefined);
    // A world built for this adoption joins the store with its run.
    const built = scratch ? await scratch.worlds.exportWorld(world) : undefined;
    if (built) await store.worlds.importWorld(built);
    const events = [
      { type: 'adopted-from', detail: `${report.target}: ${report.topology ?? meshTopology(config)}` },
      ...findings.map((f) => ({
        type: f.level === 'blocking' ? 'finding-accepted' : 'finding',
        detail: `${f.level === 'blocking' ? '--accept-findings: ' : ''}${f.message}`,
      })),
    ];
    const claimed = await claimNewRun(
      store,
      {
        id: runId,
        kind: 'adopt',
        topology: meshTopology(config),
        mode,
        config,
        configHash: hashText(stringify(config)),
        configPath: null,
        createdAt: Date.now(),
        machineVersion: workflowOf('adopt').version,
        simWorld: request.dryRun ? world : null,
        events,
      },
      world,
      request.dryRun ? faultSeed(world, faults) : undefined,
    );
    const prepared = await preparedNewRun(store, claimed, config, world, listener ? { listener } : {});
    return { report, prepared };
  } catch (error) {
    await store.close();
    throw error;
  } finally {
    await scratch?.close();
  }
}
