// mesh-run completion bash|zsh|fish prints a completion script; the scripts ask mesh-run itself what fits
// (the hidden "__complete" verb), so verbs, flags, formats, the journal's meshes and run ids, a run's own
// steps and the fault specs a run accepts stay current.
import { Command, type Option } from 'commander';
import type { FaultTarget, RunStore } from '../../engine/types.js';
import { isRunKind, RUN_KINDS, type RunKind } from '../../engine/types.js';
import { UsageError } from '../../shared/errors.js';
import type { Streams } from '../output.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;

// Tells the shell to complete file names instead.
const FILES = ':file';

const SCRIPTS: Record<(typeof SHELLS)[number], string> = {
  bash: `# mesh-run completion for bash: eval "$(mesh-run completion bash)" (e.g. in ~/.bashrc)
_mesh_run_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" IFS=$'\\n'
  local candidates
  candidates=$(mesh-run __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  if [[ "$candidates" == "${FILES}" ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
  fi
}
complete -o default -F _mesh_run_complete mesh-run
`,
  zsh: `#compdef mesh-run
# mesh-run completion for zsh: eval "$(mesh-run completion zsh)" (e.g. in ~/.zshrc, after compinit)
_mesh_run_complete() {
  local -a candidates
  candidates=("\${(@f)$(mesh-run __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ "\${candidates[1]}" == "${FILES}" ]]; then
    _files
  else
    compadd -a candidates
  fi
}
compdef _mesh_run_complete mesh-run
`,
  fish: `# mesh-run completion for fish: mesh-run completion fish | source (e.g. in ~/.config/fish/config.fish)
function __mesh_run_complete
    set -l tokens (commandline -opc) (commandline -ct)
    set -l candidates (mesh-run __complete $tokens[2..-1] 2>/dev/null)
    if test "$candidates" = "${FILES}"
        __fish_complete_path (commandline -ct)
    else
        printf '%s\\n' $candidates
    end
end
complete -c mesh-run -f -a '(__mesh_run_complete)'
`,
};

export function completionCommand(streams: Streams): Command {
  return new Command('completion')
    .description("print a shell completion script (verbs, flags, meshes and run ids from the journal, a run's own steps, fault specs)")
    .argument('<shell>', `one of ${SHELLS.join(', ')}`)
    .addHelpText(
      'after',
      `
Examples:
  eval "$(mesh-run completion bash)"          in ~/.bashrc
  eval "$(mesh-run completion zsh)"           in ~/.zshrc, after compinit
  mesh-run completion fish | source           in ~/.config/fish/config.fish

Exit codes: 0 printed, 2 an unknown shell.`,
    )
    .action((shell: string) => {
      if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`completion ${shell.slice(0, 20)}: choose one of ${SHELLS.join(', ')}`);
      streams.stdout.write(SCRIPTS[shell as (typeof SHELLS)[number]]);
    });
}

// Options whose value names a file (store copy's --from and --to, report's and init's -o too).
const FILE_OPTIONS = new Set(['--config', '--db', '--kubeconfig', '--html', '--istioctl']);
const FILE_OPTIONS_OF: Record<string, readonly string[]> = { report: ['--output'], init: ['--output'], 'store copy': ['--from', '--to'] };
// Verbs whose argument is a run id, and the run kind each takes (any, when absent).
const RUN_ID_VERBS: ReadonlyMap<string, RunKind | undefined> = new Map([
  ['resume', undefined],
  ['status', undefined],
  ['show', undefined],
  ['logs', undefined],
  ['report', undefined],
  ['cancel', undefined],
  ['unlock', undefined],
  ['upgrade rollback', 'upgrade'],
]);
// The engine's answers, loaded only when a completion needs the journal or a config (start-up stays fast).
const queries = async () => (await import('../../engine/query-api.js')).completionQueries();

// The run kind of each verb that takes --inject-failure ("<verb> <flag>": the kind that flag starts instead).
const FAULT_KINDS: Readonly<Record<string, RunKind>> = {
  install: 'install',
  verify: 'verify',
  'verify --links-only': 'verify-links',
  uninstall: 'uninstall',
  'cluster add': 'cluster-add',
  'cluster remove': 'cluster-remove',
  'secrets rotate': 'secrets-rotate',
  upgrade: 'upgrade',
  'upgrade rollback': 'upgrade-rollback',
  'trust rotate': 'trust-rotate',
};

// What the scripts call, before commander parses anything ("--" and every flag must reach it as typed):
// the words typed so far (the last one being completed); one candidate per line, never an error (a
// completion that fails prints nothing).
export async function complete(program: Command, words: readonly string[], streams: Streams): Promise<void> {
  try {
    const lines = await candidates(program, words.length > 0 ? words : ['']);
    if (lines.length > 0) streams.stdout.write(`${lines.join('\n')}\n`);
  } catch {
    // nothing to offer
  }
}

// Where the typed words put the cursor: the (sub)command, its arguments so far, the options given with their
// values, and the option whose value is being typed.
interface Position {
  command: Command;
  // "upgrade rollback", "mesh show", "install".
  path: string;
  positional: string[];
  values: Map<string, string>;
  // The flags given that take no value.
  switches: Set<string>;
  pending?: Option;
}

function visibleCommands(command: Command): Command[] {
  return command.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden && c.name() !== 'help');
}

function optionOf(command: Command, flag: string): Option | undefined {
  return command.options.find((o) => o.long === flag || o.short === flag);
}

function takesValue(option: Option | undefined): boolean {
  return Boolean(option?.required || option?.optional);
}

function positionOf(root: Command, typed: readonly string[]): Position {
  let command = root;
  const names: string[] = [];
  const positional: string[] = [];
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < typed.length; i++) {
    const word = typed[i] as string;
    if (word.startsWith('-') && word.length > 1) {
      const [flag, inline] = word.split(/=(.*)/s) as [string, string | undefined];
      const option = optionOf(command, flag) ?? optionOf(root, flag);
      if (option?.long && !takesValue(option)) switches.add(option.long);
      if (!option?.long || !takesValue(option)) continue;
      if (inline !== undefined) values.set(option.long, inline);
      else if (i + 1 < typed.length) values.set(option.long, typed[++i] as string);
      else return { command, path: names.join(' '), positional, values, switches, pending: option };
      continue;
    }
    const sub = positional.length === 0 ? visibleCommands(command).find((c) => c.name() === word) : undefined;
    if (sub) {
      command = sub;
      names.push(word);
    } else positional.push(word);
  }
  return { command, path: names.join(' '), positional, values, switches };
}

async function candidates(root: Command, words: readonly string[]): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const at = positionOf(root, words.slice(0, -1));
  // --version belongs to mesh-run alone; --store to every verb.
  const globals = root.options.flatMap((o) => (o.long && (at.command === root || o.long !== '--version') ? [o.long] : []));
  if (at.pending) return valuesOf(at.pending, at);
  if (current.startsWith('-')) {
    const own = at.command === root ? [] : at.command.options.filter((o) => !o.hidden).map((o) => o.long as string);
    return [...new Set([...own, ...globals])];
  }
  const subs = visibleCommands(at.command);
  // A verb with subcommands offers them (upgrade also runs by itself: rollback is what goes there).
  if (subs.length > 0 && at.positional.length === 0) return subs.map((c) => c.name());
  if (at.positional.length > 0) return [];
  if (at.path === 'completion') return [...SHELLS];
  if (at.path === 'plan') return [...RUN_KINDS];
  const q = await queries();
  if (at.path === 'mesh show') return journal(at, q.meshNames);
  if (RUN_ID_VERBS.has(at.path)) return journal(at, (runs) => q.recentRunIds(runs, 100, RUN_ID_VERBS.get(at.path)));
  return [];
}

async function valuesOf(option: Option, at: Position): Promise<string[]> {
  const long = option.long ?? '';
  if (option.argChoices) return [...option.argChoices];
  if (FILE_OPTIONS.has(long) || FILE_OPTIONS_OF[at.path]?.includes(long)) return [FILES];
  const run = at.path === 'logs' ? at.positional[0] : at.values.get('--run');
  const mesh = at.values.get('--mesh');
  const q = await queries();
  switch (long) {
    case '--mesh':
      return journal(at, q.meshNames);
    case '--run':
      return journal(at, (runs) => q.recentRunIds(runs, 100));
    case '--from': {
      const id = at.path === 'resume' ? at.positional[0] : undefined;
      return id ? journal(at, (runs) => q.rerunTargets(runs, id)) : [];
    }
    case '--step': {
      if (run) return journal(at, async (runs) => (await q.runFilterNames(runs, run)).steps);
      const kind = at.values.get('--kind');
      return q.stepNames(kind !== undefined && isRunKind(kind) ? kind : undefined);
    }
    case '--cluster':
      if (run) return journal(at, async (runs) => (await q.runFilterNames(runs, run)).clusters);
      if (mesh) return journal(at, (runs) => q.meshClusterNames(runs, mesh));
      return at.path === 'history' ? journal(at, q.journalClusters) : [];
    case '--name':
      return mesh && (at.path === 'cluster remove' || at.path === 'plan') ? journal(at, (runs) => q.meshClusterNames(runs, mesh)) : [];
    case '--context':
      // sim kubectl|istioctl take a cluster of the mesh (the other verbs a <cluster>=<context> pair).
      return mesh && at.path.startsWith('sim ') ? journal(at, (runs) => q.meshClusterNames(runs, mesh)) : [];
    case '--control-plane':
      return mesh ? journal(at, (runs) => q.meshClusterNames(runs, mesh, 'primary')) : [];
    case '--inject-failure':
      return faultSpecs(at, q.faultSpecCandidates);
    default:
      return [];
  }
}

// What the run this verb would start accepts for --inject-failure.
async function faultSpecs(at: Position, faultSpecCandidates: (target: FaultTarget) => Promise<string[]>): Promise<string[]> {
  const switched = [...at.switches].map((flag) => FAULT_KINDS[`${at.path} ${flag}`]).find((k) => k !== undefined);
  const kind = switched ?? FAULT_KINDS[at.path];
  if (!kind) return [];
  const { storeLocation } = await import('../../engine/composition.js');
  const value = (flag: string) => at.values.get(flag);
  const role = value('--role');
  const name = value('--name');
  // A run named by --run, or by the verb's one argument (upgrade rollback <run>; the other verbs take none).
  const runRef = value('--run') ?? at.positional[0];
  return faultSpecCandidates({
    kind,
    store: storeLocation(storeFlags(at)),
    ...(value('--config') !== undefined ? { configPath: value('--config') as string } : {}),
    ...(runRef !== undefined ? { runRef } : {}),
    ...(value('--mesh') !== undefined ? { meshRef: value('--mesh') as string } : {}),
    ...(name !== undefined
      ? {
          subject: {
            name,
            ...(role === 'primary' || role === 'remote' ? { role } : {}),
            ...(value('--network') !== undefined ? { network: value('--network') as string } : {}),
            ...(value('--control-plane') !== undefined ? { controlPlane: value('--control-plane') as string } : {}),
          },
        }
      : {}),
  });
}

function storeFlags(at: Position): { db?: string; store?: string } {
  const db = at.values.get('--db');
  const store = at.values.get('--store');
  return { ...(db ? { db } : {}), ...(store ? { store } : {}) };
}

// Asks the store the typed words name (--db, --store) or the default one.
async function journal(at: Position, query: (runs: RunStore) => Promise<string[]>): Promise<string[]> {
  const { withStore } = await import('../common.js');
  return withStore(storeFlags(at), query);
}
