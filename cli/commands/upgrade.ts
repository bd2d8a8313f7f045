// mesh-run upgrade | upgrade rollback: a canary upgrade of a mesh of the journal to a new revision, and its
// undoing, each a resumable run.
import { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { parseDuration } from '../../shared/durations.js';
import { UsageError } from '../../shared/errors.js';
import { dayTwoRunOptions } from '../common.js';
import type { Streams } from '../output.js';
import { runVerb } from '../run-session.js';
import { rehearsed } from './cluster.js';

interface UpgradeOptions {
  mesh?: string;
  revision?: string;
  istioctl?: string;
  namespaces?: string;
  waveSize: string;
  gateTimeout: string;
  keepOld?: boolean;
  skipProxyGate?: boolean;
  dryRun?: boolean;
  injectFailure?: string[];
  db?: string;
  store?: string;
  json?: boolean;
  quiet?: boolean;
}

interface RollbackOptions {
  injectFailure?: string[];
  db?: string;
  store?: string;
  json?: boolean;
  quiet?: boolean;
}

const EXITS = `Exit codes: 0 done, 1 run failed (resumable with "mesh-run resume"), 2 bad input (nothing changed),
3 the mesh cannot take it now (not installed, an upgrade left unfinished, the old revision already removed) or
its clusters are in use by another live run, 130/143 interrupted by SIGINT/SIGTERM (resumable).`;

function wholeNumber(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} ${text}: expected a whole number, e.g. ${flag} 5`);
  return Number(text);
}

function duration(text: string, flag: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`${flag} ${text}: expected a duration such as 90s, 5m or 1h`);
  return ms;
}

function rollbackCommand(streams: Streams): Command {
  return dayTwoRunOptions(
    new Command('rollback')
      .description(
        "undo an upgrade that has not removed its old revision: the default tag, the gateways and every moved namespace back as the upgrade recorded them, then the new revision's remotes and control planes removed; a resumable run",
      )
      .argument('<run>', 'the upgrade run (its id or a unique prefix)'),
  )
    .addHelpText(
      'after',
      `
A rollback reads what the upgrade journaled before each change (labels, the default tag, the gateway's revision)
and puts exactly that back. It refuses once the upgrade began removing the old revision.

Examples:
  mesh-run upgrade rollback mr-k3x9p2qa
  mesh-run plan upgrade-rollback --run mr-k3x9p2qa       the commands, without running them

${EXITS}`,
    )
    .action(async (runRef: string, own: RollbackOptions, command: Command) => {
      // Options written after "rollback" may be taken by "upgrade", which declares the same ones.
      const parent = (command.parent?.opts() ?? {}) as RollbackOptions;
      const options: RollbackOptions = {
        ...own,
        ...Object.fromEntries(
          (['db', 'store', 'json', 'quiet'] as const).filter((k) => own[k] === undefined && parent[k] !== undefined).map((k) => [k, parent[k]]),
        ),
        injectFailure: [...(own.injectFailure ?? []), ...(parent.injectFailure ?? [])],
      };
      const { prepareRollback } = await import('../../engine/run-api.js');
      const request = { runRef, injections: options.injectFailure ?? [], store: storeLocation(options) };
      await runVerb(
        streams,
        options,
        (listener) => prepareRollback(request, listener),
        (run) => `run ${run.id} (rollback of upgrade ${runRef})`,
      );
    });
}

export function upgradeCommand(streams: Streams): Command {
  const upgrade = new Command('upgrade')
    .description(
      "canary-upgrade a mesh to a new revision: precheck, the new control plane beside the old on every primary, the remotes' new profile (gate: istiod synced), the data plane in waves (gate: proxies connected), gateways and the default tag moved, the old revision removed; a resumable run",
    )
    // Checked in the action: commander would ask them of "upgrade rollback" too.
    .option('--mesh <mesh>', 'the mesh (see "mesh-run meshes"); required')
    .option('--revision <rev>', "the new revision's name (no '.': 1-31-0); required")
    .option('--istioctl <path>', "the new version's istioctl (default: the one the mesh was installed with)")
    .option('--namespaces <selector>', 'a label selector for the namespaces to move (default: every namespace the old revision injects)')
    .option('--wave-size <n>', 'namespaces per data-plane wave', '5')
    .option('--gate-timeout <duration>', 'how long each gate (new istiod synced, a wave connected) keeps trying', '5m')
    .option('--keep-old', 'keep the old revision installed at the end (a later rollback stays possible)')
    .option('--skip-proxy-gate', "do not check that each wave's proxies connect to the new revision (where no proxy can run, e.g. kwok); journaled")
    .option('--dry-run', 'a real mesh: rehearse on a simulated copy of it as the journal records it (no real cluster is touched)');
  dayTwoRunOptions(upgrade)
    .addHelpText(
      'after',
      `
The mesh must run a named revision (revision: in its config). Each phase records what it replaces before acting;
"mesh-run upgrade rollback <run>" puts that back until the old revision is removed. A wave that fails its gate
stops the run naming its namespaces: "mesh-run resume <run>" continues from that wave.

Examples:
  mesh-run upgrade --mesh mesh1 --revision 1-31-0 --istioctl ./istio-1.31.0/bin/istioctl
  mesh-run upgrade --mesh mesh1 --revision 1-31-0 --namespaces team=payments --wave-size 2 --keep-old
  mesh-run upgrade --mesh prod --revision 1-31-0 --dry-run         rehearse on a simulated copy of real mesh prod
  mesh-run plan upgrade --mesh mesh1 --revision 1-31-0             the commands, without running them
  mesh-run upgrade rollback mr-k3x9p2qa

${EXITS}`,
    )
    .action(async (options: UpgradeOptions) => {
      if (options.mesh === undefined) throw new UsageError('--mesh is required: the mesh to upgrade (see "mesh-run meshes")');
      if (options.revision === undefined) throw new UsageError("--revision is required: the new revision's name, e.g. --revision 1-31-0");
      const { prepareUpgrade } = await import('../../engine/run-api.js');
      const request = {
        meshRef: options.mesh,
        revision: options.revision as string,
        ...(options.istioctl !== undefined ? { istioctl: options.istioctl } : {}),
        ...(options.namespaces !== undefined ? { namespaces: options.namespaces } : {}),
        waveSize: wholeNumber(options.waveSize, '--wave-size'),
        gateTimeoutMs: duration(options.gateTimeout, '--gate-timeout'),
        keepOld: Boolean(options.keepOld),
        skipProxyGate: Boolean(options.skipProxyGate),
        dryRun: Boolean(options.dryRun),
        injections: options.injectFailure ?? [],
        store: storeLocation(options),
      };
      await runVerb(
        streams,
        options,
        (listener) => prepareUpgrade(request, listener),
        (run) => `run ${run.id} (upgrade of mesh ${options.mesh} to ${options.revision}${rehearsed(run, options)})`,
      );
    });
  upgrade.addCommand(rollbackCommand(streams));
  return upgrade;
}
