// mesh-run meshes and mesh-run mesh show: the meshes the journal knows, read from their runs.
import { Command } from 'commander';
import { listMeshes, meshDetail } from '../../engine/query-api.js';
import { formatDuration } from '../../shared/durations.js';
import { count } from '../../shared/words.js';
import { dbOption, withStore } from '../common.js';
import type { Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';
import { csv } from '../render/csv.js';
import { driftHistoryText } from '../render/drift-history.js';
import { table } from '../render/table.js';
import { addAdoptCommand } from './mesh-adopt.js';
import { addDiscoverCommand } from './mesh-discover.js';

const FORMATS = ['text', 'json', 'yaml', 'csv'] as const;
const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

interface MeshOptions extends OutputFlags {
  db?: string;
  store?: string;
}

export function meshesCommand(streams: Streams): Command {
  return addOutputOption(
    new Command('meshes').description('the meshes in the journal: what each install made, and the runs since').addOption(dbOption()),
    FORMATS,
  )
    .addHelpText(
      'after',
      `
A mesh is what an install made: its meshID on its clusters (the same kube contexts, or for a dry run the same
simulated clusters), with every verify and uninstall run since. Two meshes with one meshID are told apart as
<meshID>@<the install run that made it>; --mesh takes either form.

Examples:
  mesh-run meshes
  mesh-run mesh show mesh1

Exit codes: 0 listed, 2 bad input, 3 store problem.`,
    )
    .action(async (options: MeshOptions) => {
      const format = formatOf(options, FORMATS);
      const meshes = await withStore(options, (runs) => listMeshes(runs));
      if (format === 'csv') {
        streams.stdout.write(
          csv(
            ['mesh', 'state', 'mode', 'topology', 'clusters', 'created_by', 'last_run', 'last_kind', 'last_status', 'runs'],
            meshes.map((m) => {
              const last = m.runs.at(-1);
              return [...meshColumns(m), last?.id ?? null, last?.kind ?? null, last?.status ?? null, m.runs.length];
            }),
          ),
        );
        return;
      }
      if (format !== 'text') {
        streams.stdout.write(renderDocument(meshes, format));
        return;
      }
      if (meshes.length === 0) {
        streams.stdout.write('no meshes yet; make one with "mesh-run install --dry-run"\n');
        return;
      }
      const rows = meshes.map((m) => {
        const last = m.runs.at(-1);
        return [...meshColumns(m).map(String), last ? `${last.id} ${last.kind} ${last.status}` : '', String(m.runs.length)];
      });
      streams.stdout.write(`${table(['MESH', 'STATE', 'MODE', 'TOPOLOGY', 'CLUSTERS', 'CREATED BY', 'LAST RUN', 'RUNS'], rows)}\n`);
    });
}

// The columns every listing of meshes starts with, in both of its forms.
function meshColumns(m: { name: string; state: string; mode: string; topology: string; clusters: readonly unknown[]; createdBy: string }) {
  return [m.name, m.state, m.mode, m.topology, m.clusters.length, m.createdBy] as const;
}

export function meshCommand(streams: Streams): Command {
  const mesh = new Command('mesh')
    .description('one mesh: its members and the runs that touched them, or a running mesh discovered from its clusters')
    .addHelpText(
      'after',
      '\nExamples:\n  mesh-run mesh show mesh1\n  mesh-run mesh discover --context cluster1=kind-east --context cluster2=kind-west\n\nExit codes: see mesh-run mesh show --help and mesh-run mesh discover --help.',
    );
  const show = mesh
    .command('show')
    .description('the current membership, per cluster the last run that touched it, and its drift: still there since when, or ended by which run')
    .argument('<mesh>', 'a mesh name from "mesh-run meshes"');
  addOutputOption(show, FORMATS)
    .addOption(dbOption())
    .addHelpText('after', '\nExample:\n  mesh-run mesh show mesh1 -o json\n\nExit codes: 0 shown, 2 bad input, 3 store problem, 4 no such mesh.')
    .action(async (ref: string, options: MeshOptions) => {
      const format = formatOf(options, FORMATS);
      const detail = await withStore(options, (runs) => meshDetail(runs, ref));
      // CSV: the members table (the mesh's runs are in "mesh-run runs" and "mesh-run history").
      if (format === 'csv') {
        streams.stdout.write(
          csv(
            ['mesh', 'cluster', 'role', 'network', 'context', 'last_run', 'last_kind', 'last_step', 'outcome', 'at'],
            detail.clusters.map((c) => [
              detail.mesh.name,
              c.name,
              c.role,
              c.network,
              c.context,
              c.lastRun?.id ?? null,
              c.lastRun?.kind ?? null,
              c.lastRun?.step ?? null,
              c.lastRun?.outcome ?? null,
              c.lastRun ? new Date(c.lastRun.at).toISOString() : null,
            ]),
          ),
        );
        return;
      }
      if (format !== 'text') {
        streams.stdout.write(renderDocument(detail, format));
        return;
      }
      const m = detail.mesh;
      const lines = [
        `mesh      ${m.name}  (${m.topology}, ${m.mode}, ${m.state})`,
        `made by   ${m.createdBy}${m.origin === 'adopted' ? ' (adopted: mesh-run did not install it)' : ''}; members from ${m.install}; ${count(m.runs.length, 'run')}`,
        '',
        table(
          ['CLUSTER', 'ROLE', 'NETWORK', 'CONTEXT', 'LAST RUN', 'LAST STEP', 'OUTCOME', 'AT'],
          detail.clusters.map((c) => [
            c.name,
            c.role,
            c.network,
            c.context,
            c.lastRun ? `${c.lastRun.id} (${c.lastRun.kind})` : '-',
            c.lastRun?.step ?? '',
            c.lastRun?.outcome ?? '',
            c.lastRun ? when(c.lastRun.at) : '',
          ]),
        ),
        '',
        driftHistoryText(detail.drift, m.name),
        '',
        table(
          ['RUN', 'KIND', 'STATUS', 'STARTED', 'AGO'],
          m.runs.map((r) => [r.id, r.kind, r.status, when(r.createdAt), formatDuration(Date.now() - r.createdAt)]),
        ),
      ];
      streams.stdout.write(`${lines.join('\n')}\n`);
    });
  addDiscoverCommand(mesh, streams);
  addAdoptCommand(mesh, streams);
  return mesh;
}
