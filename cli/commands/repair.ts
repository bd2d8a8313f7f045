// mesh-run repair: a drift check, then a resumable run that puts back what drifted (only that) through
// install's own steps, and checks the links after.
import { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { ExitCode } from '../../shared/errors.js';
import { collect, dayTwoRunOptions } from '../common.js';
import { confirm } from '../confirm.js';
import { ExitRequest } from '../exit.js';
import { painter, type Streams } from '../output.js';
import { renderDocument } from '../output-format.js';
import { repairDocument, repairLeftText } from '../render/repair.js';
import { runVerb } from '../run-session.js';
import { rehearsed } from './cluster.js';

interface RepairOptions {
  mesh: string;
  only?: string[];
  dryRun?: boolean;
  yes?: boolean;
  force?: boolean;
  injectFailure?: string[];
  db?: string;
  store?: string;
  json?: boolean;
  quiet?: boolean;
}

const HELP = `
A drift check first ("mesh-run drift"); then one run of kind repair (resumable with "mesh-run resume") puts
back what it found, each with the step install uses, only on the cluster where it drifted:
  remote-secret-missing, remote-secret-server, remote-secret-token, istiod-unsynced
      repair-secret on the primary holding it (istioctl create-remote-secret | kubectl apply --server-side; a
      refused token is replaced by the one the cluster's reader account has now, made again if it was deleted)
  remote-secret-stale        remove-stale-secret: the secret deleted by name on that primary
  network-label              repair-label (install's label-network)
  control-plane-annotation   repair-annotation (install's annotate-remote-namespace)
  expose-istiod, expose-services   repair-expose (install's expose-istiod, expose-services)
  east-west-gateway          repair-gateway (install-eastwest-gateway, its address awaited); then the primary's
                             remotes follow: repair-remote on each, a no-op unless the address moved
  gateway-address            repair-remote (install-remote with the primary's gateway address read now)
  cacerts-missing, cacerts-changed   repair-trust (establish-trust from the mesh's trust directory; istiod
                             restarted only if it signs under another root); a cacerts holding another CA
                             (cacerts-changed): only with --force, journaled
  default-tag                repair-tag (the upgrade's tag step: the tag back on the mesh's revision); a tag no
                             mesh-run upgrade made: with --force (journaled)
  istio-missing, istiod-identity   repair-control-plane (install-primary) or, on a remote, repair-remote;
                             not on clusters whose Istio mesh-run adopted
A remote is installed again only once its primary's gateway and expose objects are back. Then
check-remote-clusters and check-injector-ca, as verify-links checks the links, and the drift check again.
revision, injector-ca-empty, roots-differ and intermediate-expiring are listed as "not repaired by this
version", with why and the command that puts them right (an expiring intermediate: mesh-run trust rotate
--intermediate). Nothing drifted: nothing is recorded.

Examples:
  mesh-run repair --mesh mesh1
  mesh-run repair --mesh prod --only remote-secret-missing --only network-label --yes
  mesh-run repair --mesh prod --dry-run          rehearse on a simulated copy of real mesh prod

Exit codes: 0 repaired (or nothing to repair) and no drift left; 5 drift left: kinds this version does not
repair, or left out by --only (listed); 1 the run failed (resumable with "mesh-run resume"); 2 bad input
(nothing changed); 3 a cluster could not be read, or the mesh cannot take a change now (an unfinished
upgrade); 4 no such mesh; 130/143 interrupted (resumable).`;

export function repairCommand(streams: Streams): Command {
  return dayTwoRunOptions(
    new Command('repair')
      .description('put back what "mesh-run drift" finds on a mesh of the journal, as a resumable run, then check its links')
      .requiredOption('--mesh <mesh>', 'the mesh (see "mesh-run meshes")')
      .option('--only <kind>', 'repair only this drift kind (repeatable, or comma-separated)', collect)
      .option('--dry-run', 'a real mesh: rehearse on a simulated copy of it as the journal records it (no real cluster is touched)')
      .option('-y, --yes', 'real clusters: do not ask before repairing (required without a terminal); dry runs never ask')
      .option('--force', "replace a cacerts that holds another CA with the mesh's own, move a default tag mesh-run did not make (journaled)"),
  )
    .addHelpText('after', HELP)
    .action(async (options: RepairOptions) => {
      const { checkRepair, describeRepair, prepareRepair, recheckRepair } = await import('../../engine/run-api.js');
      const request = {
        meshRef: options.mesh,
        ...(options.only ? { only: options.only } : {}),
        dryRun: Boolean(options.dryRun),
        force: Boolean(options.force),
        injections: options.injectFailure ?? [],
        store: storeLocation(options),
      };
      const decision = await checkRepair(request);
      const left = decision.unrepairable.length + decision.skipped.length;
      const paint = painter(streams.stderr);
      if (decision.repairs.length === 0) {
        if (options.json) streams.stdout.write(renderDocument(repairDocument(decision), 'json'));
        else {
          streams.stderr.write(repairLeftText(decision, paint));
          streams.stdout.write(`mesh ${decision.mesh}: nothing to repair${left > 0 ? ` (${left} drift${left === 1 ? '' : 's'} left, listed)` : ''}\n`);
        }
        if (left > 0) throw new ExitRequest(ExitCode.found);
        return;
      }
      if (decision.mode === 'real' && !options.dryRun) {
        const what = decision.repairs.map((r) => `  ${describeRepair(r)}${r.secret ? ` (${r.secret})` : ''}`);
        const asked = await confirm(`Repair on the real clusters of mesh ${decision.mesh}:\n${what.join('\n')}\nRepair?`, streams, {
          yes: Boolean(options.yes),
          refusal: 'repair of a real mesh changes its clusters: confirm on a terminal, or pass --yes',
        });
        if (!asked) {
          streams.stderr.write('repair not confirmed: nothing was changed\n');
          throw new ExitRequest(ExitCode.usage);
        }
      }
      try {
        await runVerb(
          streams,
          options,
          (listener) => prepareRepair(request, decision, listener),
          (run) => `run ${run.id} (repair of mesh ${options.mesh}: ${decision.repairs.map(describeRepair).join(', ')}${rehearsed(run, options)})`,
        );
      } catch (error) {
        if (!(error instanceof ExitRequest) || error.exitCode !== ExitCode.ok) throw error;
        const after = await recheckRepair(request, decision);
        const remaining = after ? after.unrepairable.length + after.skipped.length + after.repairs.length : 0;
        if (!after || remaining === 0) throw error;
        streams.stderr.write(repairLeftText(after, paint));
        for (const r of after.repairs) streams.stderr.write(`${paint('yellow', '!')} ${r.kind} ${r.cluster}: still drifted after the repair\n`);
        throw new ExitRequest(ExitCode.found);
      }
    });
}
