// mesh-run completion bash|zsh|fish prints a completion script; the scripts ask mesh-run itself what fits
// (the hidden "__complete" verb), so verbs, flags, step ids, formats and the journal's run ids stay current.
import { Command, type Option } from 'commander';
import { RUN_KINDS, STEP_IDS } from '../../machines/steps.js';
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
    .description('print a shell completion script (verbs, flags, step ids, run ids from the journal)')
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

// Options whose value names a file, and verbs whose first argument is a run id.
const FILE_OPTIONS = new Set(['--config', '--db', '--kubeconfig', '--html']);
const RUN_ID_VERBS = new Set(['resume', 'status', 'show', 'logs', 'report', 'cancel', 'unlock']);

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

async function candidates(root: Command, words: readonly string[]): Promise<string[]> {
  const typed = words.slice(0, -1);
  const current = words.at(-1) ?? '';
  const visible = root.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden && c.name() !== 'help');
  const verbIndex = typed.findIndex((w) => !w.startsWith('-'));
  const verb = verbIndex >= 0 ? visible.find((c) => c.name() === typed[verbIndex]) : undefined;
  const globals = root.options.map((o) => o.long).filter((l): l is string => Boolean(l));
  if (!verb) return current.startsWith('-') ? globals : visible.map((c) => c.name());
  // config check / store copy: the sub-verb, then its own options.
  const sub = verb.commands.length > 0 ? verb.commands.find((c) => c.name() === typed[verbIndex + 1]) : undefined;
  if (verb.commands.length > 0 && !sub) return verb.commands.map((c) => c.name());
  const command = sub ?? verb;
  const previous = typed.at(-1) ?? '';
  const option = previous.startsWith('-') ? command.options.find((o) => o.long === previous || o.short === previous) : undefined;
  if (option?.required || option?.optional) return valuesOf(option, typed);
  if (current.startsWith('-')) return [...command.options.filter((o) => !o.hidden).map((o) => o.long as string), ...globals];
  const positional = typed.slice(verbIndex + 1 + (sub ? 1 : 0)).filter((w, i, all) => !w.startsWith('-') && !isOptionValue(command, all[i - 1]));
  if (positional.length > 0) return [];
  if (command.name() === 'completion') return [...SHELLS];
  if (command.name() === 'plan') return [...RUN_KINDS];
  if (RUN_ID_VERBS.has(command.name())) return runIds(typed);
  return [];
}

function isOptionValue(command: Command, before: string | undefined): boolean {
  if (!before?.startsWith('-')) return false;
  const option = command.options.find((o) => o.long === before || o.short === before);
  return Boolean(option?.required || option?.optional);
}

function valuesOf(option: Option, typed: readonly string[]): Promise<string[]> | string[] {
  const long = option.long ?? '';
  if (option.argChoices) return [...option.argChoices];
  if (FILE_OPTIONS.has(long)) return [FILES];
  if (long === '--from' || long === '--step') return [...STEP_IDS];
  if (long === '--run') return runIds(typed);
  return [];
}

// The newest run ids in the store the typed words name (--db, --store) or the default one.
async function runIds(typed: readonly string[]): Promise<string[]> {
  const flagValue = (flag: string) => {
    const i = typed.lastIndexOf(flag);
    return i >= 0 ? typed[i + 1] : undefined;
  };
  const [{ withStore }, { recentRuns }] = await Promise.all([import('../common.js'), import('../../engine/run-queries.js')]);
  const db = flagValue('--db');
  const store = flagValue('--store');
  const runs = await withStore({ ...(db ? { db } : {}), ...(store ? { store } : {}) }, (r) => recentRuns(r, 100));
  return runs.map((r) => r.id);
}
