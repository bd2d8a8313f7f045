// Options and helpers shared by the verbs.
import { type Command, Option } from 'commander';
import { maskPassword, openStore, storeLocation } from '../engine/composition.js';
import type { RunStore } from '../engine/types.js';
import { parseDuration } from '../shared/durations.js';
import { UsageError } from '../shared/errors.js';
import { displayArgv } from './render/argv.js';

export interface CommonOptions {
  db?: string;
  // The global --store (copied onto the verb's options before it runs).
  store?: string;
  json?: boolean;
}

// --context <cluster>=<context> (repeatable) and --kubeconfig: they override the config file.
export interface ClusterFlags {
  context?: string[];
  kubeconfig?: string;
}

export function addClusterOptions(command: Command): Command {
  return command
    .addOption(new Option('--context <cluster=context>', 'the kube context of a cluster, overriding the config and CTX_* (repeatable)').argParser(collect))
    .addOption(new Option('--kubeconfig <file>', 'the kubeconfig every kubectl and istioctl reads (overrides tools.kubeconfig and $KUBECONFIG)'));
}

// A repeatable option's values (commander would print a default of [] in the help).
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function overridesOf(flags: ClusterFlags): { contexts: string[]; kubeconfig?: string } {
  return { contexts: flags.context ?? [], ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}) };
}

// The precedence of the cluster settings, for every verb's help that takes them.
export const CONTEXT_PRECEDENCE = `Contexts and kubeconfig, highest first: --context <cluster>=<context> and --kubeconfig; the config file
(clusters[].context, or primary.context/remotes[].context; tools.kubeconfig); CTX_CLUSTER1 and CTX_CLUSTER2
(the Istio page's variables, for cluster1 and cluster2); the defaults (a context named like the cluster;
$KUBECONFIG, else ~/.kube/config).`;

export function dbOption(): Option {
  return new Option('--db <file>', 'SQLite journal (default: $MESH_RUN_STORE, else $MESH_RUN_DB, else $XDG_STATE_HOME/mesh-run/mesh-run.db)');
}

// What every day-2 run (cluster add|remove, secrets rotate, upgrade and its rollback) takes: failures injected
// on simulated clusters, the store, the output form.
export function dayTwoRunOptions(command: Command): Command {
  return command
    .option('--inject-failure <spec>', 'simulated clusters: make <step>[@cluster][:count][:transient] fail (repeatable)', collect)
    .addOption(dbOption())
    .option('--json', 'one JSON document on stdout; NDJSON progress events on stderr')
    .option('-q, --quiet', 'no progress output, only the result');
}

export function storeOption(): Option {
  return new Option(
    '--store <url>',
    'the store: postgres://… (a team database; ?schema=, default mesh_run), sqlite:<path> or a path (default: $MESH_RUN_STORE)',
  );
}

// "mesh-run resume <id>", with --db or --store when the store is not the default one (a URL's password masked:
// give it again through PGPASSWORD or PGPASSFILE).
export function resumeHint(options: CommonOptions): (runId: string) => string {
  const where = options.store !== undefined ? ['--store', maskPassword(options.store)] : options.db ? ['--db', options.db] : [];
  return (runId) => displayArgv(['mesh-run', 'resume', runId, ...where]);
}

export function parseDelayOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms > 24 * 3_600_000) throw new UsageError(`${flag} "${value}": expected a duration such as 500ms, 5s or 2m`);
  return ms;
}

export const LB_MODES = ['ip', 'hostname', 'none'] as const;

// Opens the journal for a read-only verb (it must already exist), runs `fn`, and closes it.
export async function withStore<T>(options: CommonOptions, fn: (runs: RunStore) => Promise<T>): Promise<T> {
  const store = await openStore(storeLocation(options), 'read-only');
  try {
    return await fn(store.runs);
  } finally {
    await store.close();
  }
}
