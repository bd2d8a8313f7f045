// The mesh-run program: parses, calls the engine, renders, and maps errors to exit codes.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, type OutputConfiguration } from 'commander';
import { ExitCode, MeshRunError } from '../shared/errors.js';
import { cancelCommand } from './commands/cancel.js';
import { clusterCommand } from './commands/cluster.js';
import { complete, completionCommand } from './commands/completion.js';
import { configCommand } from './commands/config.js';
import { followUpCommand } from './commands/follow-up.js';
import { graphCommand } from './commands/graph.js';
import { historyCommand } from './commands/history.js';
import { initCommand } from './commands/init.js';
import { installCommand } from './commands/install.js';
import { meshCommand, meshesCommand } from './commands/meshes.js';
import { planCommand } from './commands/plan.js';
import { precheckCommand } from './commands/precheck.js';
import { reportCommand } from './commands/report.js';
import { resumeCommand } from './commands/resume.js';
import { secretsCommand } from './commands/secrets.js';
import { logsCommand, showCommand } from './commands/show.js';
import { runsCommand, statusCommand } from './commands/status.js';
import { storeCommand } from './commands/store.js';
import { unlockCommand } from './commands/unlock.js';
import { upgradeCommand } from './commands/upgrade.js';
import { versionCommand } from './commands/version.js';
import { storeOption } from './common.js';
import { ExitRequest } from './exit.js';
import { painter, type Streams } from './output.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

// Verbs that change something (drive a run, unlock one, copy a store): their exit code says what happened,
// whatever became of their output.
export const ACTING_VERBS: ReadonlySet<string> = new Set([
  'install',
  'verify',
  'uninstall',
  'cluster',
  'secrets',
  'upgrade',
  'resume',
  'cancel',
  'unlock',
  'store',
  'init',
]);

// Verbs that only read: the only ones offered as "did you mean", so a typo never leads to a verb that
// changes clusters.
const READ_ONLY_VERBS = [
  'precheck',
  'status',
  'runs',
  'meshes',
  'mesh',
  'history',
  'show',
  'logs',
  'graph',
  'plan',
  'report',
  'config',
  'version',
  'completion',
];

// commander's messages in mesh-run's one error style, with suggestions limited to read-only verbs.
function outputError(streams: Streams): (message: string, write: (s: string) => void) => void {
  return (message) => {
    const paint = painter(streams.stderr);
    const text = message.replace(/^error: /, '').trimEnd();
    const unknown = /^unknown command '([^']*)'/.exec(text);
    const suggestion = unknown ? closestVerb(unknown[1] as string) : undefined;
    const help = unknown ? `${suggestion ? ` (did you mean ${suggestion}?)` : ''}; "mesh-run --help" lists the commands` : '';
    streams.stderr.write(`${paint('red', 'mesh-run: error:')} ${text}${help}\n`);
  };
}

function closestVerb(word: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const verb of READ_ONLY_VERBS) {
    const d = distance(word.toLowerCase(), verb);
    if (d < bestDistance) [best, bestDistance] = [verb, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const kept = row[j] as number;
      row[j] = Math.min(kept + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = kept;
    }
  }
  return row[b.length] as number;
}

// A verb and every subcommand under it (cluster add, secrets rotate, mesh show): commander's errors in
// mesh-run's style and exit code (2 for bad input), help with the global options.
function inOurStyle(command: Command, output: OutputConfiguration): Command {
  for (const sub of command.commands) inOurStyle(sub, output);
  return command.exitOverride().showSuggestionAfterError(false).configureOutput(output).configureHelp({ showGlobalOptions: true });
}

export function buildProgram(streams: Streams): Command {
  const output = { writeOut: (s: string) => streams.stdout.write(s), writeErr: (s: string) => streams.stderr.write(s), outputError: outputError(streams) };
  const program = new Command('mesh-run')
    .description('Resumable, journaled Istio multicluster runs (primary-remote, multi-primary, multi-network, mixed): install, verify, uninstall.')
    .version(version(), '-V, --version')
    .showSuggestionAfterError(false)
    .configureOutput(output)
    .addOption(storeOption())
    .exitOverride()
    // --store is global: every verb sees it among its own options.
    .hook('preAction', (root, verb) => {
      const store = root.opts().store as string | undefined;
      if (store !== undefined && verb.getOptionValue('store') === undefined) verb.setOptionValue('store', store);
    });
  for (const command of [
    precheckCommand(streams),
    installCommand(streams),
    followUpCommand('verify', streams),
    followUpCommand('uninstall', streams),
    clusterCommand(streams),
    upgradeCommand(streams),
    resumeCommand(streams),
    statusCommand(streams),
    runsCommand(streams),
    meshesCommand(streams),
    meshCommand(streams),
    historyCommand(streams),
    showCommand(streams),
    logsCommand(streams),
    graphCommand(streams),
    planCommand(streams),
    reportCommand(streams),
    cancelCommand(streams),
    unlockCommand(streams),
    storeCommand(streams),
    secretsCommand(streams),
    configCommand(streams),
    initCommand(streams),
    versionCommand(streams, version()),
    completionCommand(streams),
  ]) {
    program.addCommand(inOurStyle(command, output));
  }
  return program;
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}

// Maps what a command threw to an exit code and a message; stack traces only for bugs.
function report(error: unknown, streams: Streams, json: boolean): number {
  if (error instanceof ExitRequest) return error.exitCode;
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok;
    // commander already printed its one-line message.
    return ExitCode.usage;
  }
  const paint = painter(streams.stderr);
  if (error instanceof MeshRunError) {
    if (json) streams.stdout.write(`${JSON.stringify({ ok: false, error: error.toJSON() }, null, 2)}\n`);
    for (const line of error.message.split('\n')) streams.stderr.write(`${paint('red', 'mesh-run: error:')} ${line}\n`);
    if (error.hint) streams.stderr.write(`mesh-run: hint: ${error.hint}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (json) streams.stdout.write(`${JSON.stringify({ ok: false, error: { code: 'internal', message } }, null, 2)}\n`);
  streams.stderr.write(`${paint('red', 'mesh-run: internal error:')} ${message}\n`);
  streams.stderr.write('mesh-run: this is a bug; please report it with the output of MESH_RUN_DEBUG=1\n');
  if (process.env.MESH_RUN_DEBUG && error instanceof Error && error.stack) streams.stderr.write(`${error.stack}\n`);
  return 70;
}

export async function main(argv: readonly string[], streams: Streams): Promise<number> {
  const program = buildProgram(streams);
  // The completion scripts' entry point: not a verb, so help never lists it and commander never parses it.
  if (argv[0] === '__complete') {
    await complete(program, argv.slice(1), streams);
    return ExitCode.ok;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    return report(error, streams, wantsJson(argv));
  }
}
