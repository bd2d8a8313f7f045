// mesh-run drift: a journal mesh against its clusters now, read only: what changed, why it matters, the repair.
import { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { ExitCode } from '../../shared/errors.js';
import { dbOption } from '../common.js';
import { ExitRequest } from '../exit.js';
import { painter, type Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';
import { driftText } from '../render/drift.js';
import { untilInterrupted } from '../until-interrupted.js';

const FORMATS = ['text', 'json', 'yaml'] as const;

interface DriftOptions extends OutputFlags {
  mesh?: string;
  db?: string;
  store?: string;
}

export function driftCommand(streams: Streams): Command {
  const command = new Command('drift')
    .description(
      'compare a mesh of the journal (installed or adopted) with its clusters now: what drifted, since when, why it matters, the repair; changes nothing',
    )
    .requiredOption('--mesh <mesh>', 'the journal mesh to check (see "mesh-run meshes"; a dry-run install checks its simulated clusters)');
  return addOutputOption(command, FORMATS)
    .addOption(dbOption())
    .addHelpText(
      'after',
      `
The journal says what the mesh should be: its clusters with their roles, networks and control planes, its
meshID and revision, and what its runs saw (cacerts: the fingerprints of its root and intermediate). Each
cluster is read as "mesh discover" reads it, and each primary is asked what its istiod sees (istioctl
remote-clusters) and which expose objects it has; a
remote secret's token is presented to its API server only when istiod does not see that cluster synced, from
this process, in memory (never printed, stored or journaled). Nothing on the clusters is changed. The check is
journaled as a run of kind drift (its id is printed; it claims no cluster, so it never waits for another run):
what it found, so each drift says since when it is there ("since", JSON "firstSeen"), and "mesh-run mesh show"
says what is still drifted and what a repair or a later check saw gone.

Drift kinds: istio-missing, revision, istiod-identity (meshID, clusterName, network), network-label,
control-plane-annotation, default-tag, remote-secret-missing, remote-secret-stale (a cluster that is not a
member), remote-secret-server, remote-secret-token (refused), istiod-unsynced, injector-ca-empty,
east-west-gateway, gateway-address (a remote pointing at an old address), expose-istiod, expose-services,
cacerts-missing, cacerts-changed (another root or intermediate than the journal recorded), roots-differ,
intermediate-expiring (a warning: within 30 days). Each: what and where, why it matters, the repair command.

Examples:
  mesh-run drift --mesh mesh1
  mesh-run drift --mesh prod -o json > drift.json
  a CronJob or cron line that alerts on drift and on a failed check alike:
  mesh-run drift --mesh prod -o json > drift.json; case $? in 0) ;; 5) alert "drift" drift.json ;; *) alert "drift check failed" ;; esac

Exit codes: 0 no drift, 5 drift found (listed), 3 a cluster could not be read (the check is incomplete; what
drifted on the others is still listed; also a store problem), 4 no such mesh (or one uninstalled, or whose
install never finished), 2 bad input.`,
    )
    .action(async (options: DriftOptions) => {
      const format = formatOf(options, FORMATS);
      const { recordDriftCheck } = await import('../../engine/run-api.js');
      const { runId, report } = await untilInterrupted((signal) =>
        recordDriftCheck({ meshRef: options.mesh as string, store: storeLocation(options), signal }),
      );
      const ok = report.drift.length === 0 && report.unreadable.length === 0;
      if (format === 'text') streams.stdout.write(`run ${runId}\n${driftText(report, painter(streams.stdout))}`);
      else streams.stdout.write(renderDocument({ ok, ...report }, format));
      if (report.unreadable.length > 0) throw new ExitRequest(ExitCode.precondition);
      if (report.drift.length > 0) throw new ExitRequest(ExitCode.found);
    });
}
