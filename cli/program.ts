// The mesh-run program: parses, calls the engine, renders, and maps errors to exit codes.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ExitCode, MeshRunError } from '../engine/errors.js';
import { installCommand } from './commands/install.js';
import { resumeCommandDef } from './commands/resume.js';
import { followUpCommand } from './commands/follow-up.js';
import { graphCommand } from './commands/graph.js';
import { historyCommand } from './commands/history.js';
import { planCommand } from './commands/plan.js';
import { reportCommand } from './commands/report.js';
import { logsCommand, showCommand } from './commands/show.js';
import { runsCommand, statusCommand } from './commands/status.js';
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

export function buildProgram(streams: Streams): Command {
  const program = new Command('mesh-run')
    .description('Resumable, journaled Istio multicluster runs (primary-remote): install, verify, uninstall.')
    .version(version(), '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => streams.stdout.write(s),
      writeErr: (s) => streams.stderr.write(s),
    })
    .exitOverride();
  for (const command of [installCommand(streams), followUpCommand('verify', streams), followUpCommand('uninstall', streams), resumeCommandDef(streams), statusCommand(streams), runsCommand(streams), historyCommand(streams), showCommand(streams), logsCommand(streams), graphCommand(streams), planCommand(streams), reportCommand(streams)]) {
    program.addCommand(command.exitOverride().configureOutput({ writeOut: (s) => streams.stdout.write(s), writeErr: (s) => streams.stderr.write(s) }));
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
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    return report(error, streams, wantsJson(argv));
  }
}
