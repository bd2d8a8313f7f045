// The mesh-run program: parses, calls the engine, renders, and maps errors to exit codes.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, type OutputConfiguration } from 'commander';
import { ExitCode, MeshRunError } from '../shared/errors.js';
import { nearest } from '../shared/words.js';
import { cancelCommand } from './commands/cancel.js';
import { clusterCommand } from './commands/cluster.js';
import { complete, completionCommand } from './commands/completion.js';
import { configCommand } from './commands/config.js';
import { driftCommand } from './commands/drift.js';
import { followUpCommand } from './commands/follow-up.js';
import { graphCommand } from './commands/graph.js';
import { historyCommand } from './commands/history.js';
import { initCommand } from './commands/init.js';
import { installCommand } from './commands/install.js';
import { meshCommand, meshesCommand } from './commands/meshes.js';
import { planCommand } from './commands/plan.js';
import { precheckCommand } from './commands/precheck.js';
import { repairCommand } from './commands/repair.js';
import { reportCommand } from './commands/report.js';
import { resumeCommand } from './commands/resume.js';
import { secretsCommand } from './commands/secrets.js';
import { logsCommand, showCommand } from './commands/show.js';
import { simCommand } from './commands/sim.js';
import { runsCommand, statusCommand } from './commands/status.js';
import { storeCommand } from './commands/store.js';
import { trustCommand } from './commands/trust.js';
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

// commander's messages in mesh-run's one error style, one line each: an unknown verb or option names the
// nearest one there is, and where --help lists them.
function outputError(streams: Streams, command: Command): (message: string, write: (s: string) => void) => void {
  return (message) => {
    const paint = painter(streams.stderr);
    const text = message.replace(/^error: /, '').trimEnd();
    const more = afterError(text, command);
    streams.stderr.write(`${paint('red', 'mesh-run: error:')} ${more ? text.replace(/\.$/, '') : text}${more}\n`);
  };
}

function pathOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function afterError(text: string, command: Command): string {
  const verbs = command.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden && c.name() !== 'help');
  const didYouMean = (word: string | undefined, candidates: string[], prefix = '') => {
    const found = word === undefined ? undefined : nearest(word, candidates);
    return found ? ` (did you mean ${prefix}${found}?)` : '';
  };
  const unknownCommand = /^unknown command '([^']*)'/.exec(text);
  if (unknownCommand) {
    const group = command.parent ? `${pathOf(command)} ` : '';
    return `${didYouMean(
      unknownCommand[1],
      verbs.map((c) => c.name()),
      group.replace(/^mesh-run /, ''),
    )}; "${pathOf(command)} --help" lists the commands`;
  }
  const unknownOption = /^unknown option '([^']*)'/.exec(text);
  if (unknownOption) {
    const word = (unknownOption[1] as string).split('=')[0] as string;
    const longs = [...command.options, ...(command.parent ? rootOf(command).options : [])].flatMap((o) => (o.hidden || !o.long ? [] : [o.long]));
    const suggestion = word.startsWith('--') ? didYouMean(word, [...new Set(longs)]) : '';
    return `${suggestion}; "${pathOf(command)} --help" lists the options`;
  }
  // "upgrade rollbak <run>": a mistyped subcommand of a verb that also runs by itself.
  if (/^too many arguments/.test(text) && verbs.length > 0) {
    return `${didYouMean(
      command.args[0],
      verbs.map((c) => c.name()),
      `${pathOf(command).replace(/^mesh-run /, '')} `,
    )}; "${pathOf(command)} --help" lists its usage`;
  }
  return '';
}

function rootOf(command: Command): Command {
  let c = command;
  while (c.parent) c = c.parent;
  return c;
}

// A verb and every subcommand under it (cluster add, secrets rotate, mesh show): commander's errors in
// mesh-run's style and exit code (2 for bad input), help with the global options.
function inOurStyle(command: Command, output: OutputConfiguration, streams: Streams): Command {
  for (const sub of command.commands) inOurStyle(sub, output, streams);
  return command
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({ ...output, outputError: outputError(streams, command) })
    .configureHelp({ showGlobalOptions: true });
}

export function buildProgram(streams: Streams): Command {
  const output = { writeOut: (s: string) => streams.stdout.write(s), writeErr: (s: string) => streams.stderr.write(s) };
  const program: Command = new Command('mesh-run')
    .description('Resumable, journaled Istio multicluster runs (primary-remote, multi-primary, multi-network, mixed): install, verify, uninstall.')
    .version(version(), '-V, --version')
    .showSuggestionAfterError(false)
    .configureOutput({ ...output, outputError: (message, write) => outputError(streams, program)(message, write) })
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
    simCommand(streams),
    driftCommand(streams),
    repairCommand(streams),
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
    trustCommand(streams),
    configCommand(streams),
    initCommand(streams),
    versionCommand(streams, version()),
    completionCommand(streams),
  ]) {
    program.addCommand(inOurStyle(command, output, streams));
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
