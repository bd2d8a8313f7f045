// mesh-run mesh discover: a mesh mesh-run did not install, read from its clusters: roles, networks, revisions,
// remote secrets (names and servers, never tokens), and the config that describes it (-o yaml).
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { storeLocation } from '../../engine/composition.js';
import type { DiscoveryReport } from '../../engine/types.js';
import { ExitCode } from '../../shared/errors.js';
import { addClusterOptions, type ClusterFlags, CONTEXT_PRECEDENCE, dbOption, overridesOf } from '../common.js';
import { ExitRequest } from '../exit.js';
import { painter, type Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';
import { discoveryText } from '../render/discovery.js';

const FORMATS = ['text', 'json', 'yaml'] as const;

interface DiscoverOptions extends ClusterFlags, OutputFlags {
  config?: string;
  mesh?: string;
  db?: string;
  store?: string;
}

// The config as a file: a header naming what was read and every finding, then the YAML config check reads.
function configYaml(report: DiscoveryReport & { target: string }): string {
  const header = [
    `# Discovered by "mesh-run mesh discover" from ${report.target}${report.topology ? ` (${report.topology})` : ''}.`,
    ...report.findings.map((f) => `# ${f.level}: ${f.message}`),
    ...(report.config.trust ? ["# trust.caDir: point it at the CA files of the primaries' common root (mesh-run reads no key from a cluster)."] : []),
  ];
  return `${header.join('\n')}\n${stringify(report.config)}`;
}

export function addDiscoverCommand(mesh: Command, streams: Streams): void {
  const discover = mesh
    .command('discover')
    .description('read a running multicluster mesh (one mesh-run did not install) from its clusters: roles, networks, revisions, remote secrets; reads only')
    .option('-c, --config <file>', 'the clusters of this config (their roles are discovered, not taken from it)')
    .option('--mesh <mesh>', 'the clusters of a journal mesh (simulated for a dry-run install; see "mesh-run meshes")');
  addOutputOption(addClusterOptions(discover), FORMATS)
    .addOption(dbOption())
    .addHelpText(
      'after',
      `
Per cluster it reads (kubectl get only): istiod Deployments (revision; CLUSTER_ID, mesh ID, NETWORK and
EXTERNAL_ISTIOD from their env; the installer from their labels: mesh-run, istioctl, helm or manifests),
istio-system's network label and controlPlaneClusters annotation, the injector webhooks (the remote profile),
revision tags, the east-west gateway's address, whether cacerts exists (by name), the root each istiod
publishes (ConfigMap istio-ca-root-cert: its SHA-256 fingerprint), where a remote reaches its control plane
(istiod's endpoints), its context's API server (kubectl config view), and on each primary the remote secrets:
name, cluster names and API server. A secret's token is read into memory only to get past it; it is never
printed, stored or journaled.

--context alone names the clusters: mesh-run mesh discover --context east=ctx-a --context west=ctx-b.
-o yaml writes a config "mesh-run config check" accepts; -o json the whole report.

Examples:
  mesh-run mesh discover --context cluster1=kind-east --context cluster2=kind-west
  mesh-run mesh discover -c mesh.yaml -o yaml > discovered.yaml
  mesh-run mesh discover --mesh mesh1 -o json          the simulated clusters of a dry-run install

${CONTEXT_PRECEDENCE}

Exit codes: 0 described (warnings may remain), 2 bad input, 3 a blocking finding (listed), 4 no such mesh.`,
    )
    .action(async (options: DiscoverOptions) => {
      const format = formatOf(options, FORMATS);
      const { discoverMesh } = await import('../../engine/run-api.js');
      const report = await discoverMesh({
        ...(options.config !== undefined ? { configPath: options.config } : {}),
        ...(options.mesh !== undefined ? { meshRef: options.mesh } : {}),
        overrides: overridesOf(options),
        store: storeLocation(options),
      });
      const blocking = report.findings.filter((f) => f.level === 'blocking');
      if (format === 'yaml') streams.stdout.write(configYaml(report));
      else if (format === 'json') streams.stdout.write(renderDocument({ ok: blocking.length === 0, ...report }, format));
      else
        streams.stdout.write(
          discoveryText(report, painter(streams.stdout), 'described; "-o yaml" writes the config (check it with "mesh-run config check -c <file>")'),
        );
      if (blocking.length > 0) {
        if (format !== 'text') for (const f of blocking) streams.stderr.write(`blocking: ${f.message}\n`);
        throw new ExitRequest(ExitCode.precondition);
      }
    });
}
