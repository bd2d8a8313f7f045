// ClusterTools over the real kubectl and istioctl binaries, through execa (argv only, no shell).
import { execa } from 'execa';
import { ToolError } from '../shared/errors.js';
import type { ClusterTools, Command, CommandResult, RunOptions, SourceResult } from './cluster-tools.js';
import { processStart, RUN_MARKER } from './processes.js';
import { presentTokenOverHttps } from './token-probe.js';

export interface ToolPaths {
  kubectl: string;
  istioctl: string;
  // Given to every child as KUBECONFIG (absent: the child inherits the environment's).
  kubeconfig?: string;
}

const MAX_BUFFER = 64 * 1024 * 1024;

// Options shared by every child: no shell, killed on abort or timeout, SIGKILL 5 s after SIGTERM. Each
// child leads its own process group and carries the run id in its environment, so a driver that takes over
// after this one was killed can find and stop what it left running.
function baseOptions(options: RunOptions, paths: ToolPaths) {
  return {
    reject: false,
    shell: false,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    forceKillAfterDelay: 5000,
    maxBuffer: MAX_BUFFER,
    stripFinalNewline: false,
    detached: true,
    env: { NO_COLOR: '1', ...(paths.kubeconfig ? { KUBECONFIG: paths.kubeconfig } : {}), ...(options.runId ? { [RUN_MARKER]: options.runId } : {}) },
  } as const;
}

function reportSpawn(child: { pid?: number | undefined }, role: 'command' | 'source' | 'sink', options: RunOptions): void {
  if (!options.onSpawn || child.pid === undefined) return;
  const start = processStart(child.pid);
  options.onSpawn(role, { pid: child.pid, pgid: child.pid, ...(start ? { start } : {}) });
}

type Settled = {
  exitCode?: number | undefined;
  stdout?: unknown;
  stderr?: unknown;
  timedOut: boolean;
  isCanceled: boolean;
  code?: string | undefined;
  failed: boolean;
  originalMessage?: string | undefined;
};

function check(result: Settled, command: Command, paths: ToolPaths, options: RunOptions): void {
  if (result.isCanceled || options.signal.aborted) throw options.signal.reason ?? new Error('aborted');
  if (result.code === 'ENOENT') {
    throw new ToolError('not-found', `${command.tool} not found (looked for "${paths[command.tool]}"); install it or set tools.${command.tool} in the config`);
  }
  if (result.timedOut) {
    throw new ToolError('timeout', `${command.tool} ${command.args[0] ?? ''} timed out after ${Math.round(options.timeoutMs / 1000)}s (timeouts.command)`);
  }
  if (result.exitCode === undefined) {
    throw new ToolError('spawn', `${command.tool} could not be started: ${result.originalMessage ?? 'unknown error'}`);
  }
}

// Builds the real adapter; `paths` name the binaries (resolved on PATH when bare names).
export function createExecaTools(paths: ToolPaths): ClusterTools {
  // Input is written to the child's stdin and closed; without it the child gets no stdin at all.
  const spawn = (command: Command, options: RunOptions) =>
    command.stdin !== undefined
      ? execa(paths[command.tool], [...command.args], { ...baseOptions(options, paths), input: command.stdin })
      : execa(paths[command.tool], [...command.args], { ...baseOptions(options, paths), stdin: 'ignore' });

  return {
    mode: 'real',
    presentToken: presentTokenOverHttps,
    async run(command, options): Promise<CommandResult> {
      const child = spawn(command, options);
      reportSpawn(child, 'command', options);
      const result: Settled = await child;
      check(result, command, paths, options);
      return { exitCode: result.exitCode as number, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
    },

    async pipe(source, sink, options) {
      // The source's stdout is a bearer-token kubeconfig: stream it into the sink, never buffer it.
      const producer = execa(paths[source.tool], [...source.args], {
        ...baseOptions(options, paths),
        stdin: 'ignore',
        stdout: 'pipe',
        buffer: { stdout: false, stderr: true },
      });
      const consumer = execa(paths[sink.tool], [...sink.args], {
        ...baseOptions(options, paths),
        stdin: 'pipe',
      });
      reportSpawn(producer, 'source', options);
      reportSpawn(consumer, 'sink', options);
      producer.stdout?.pipe(consumer.stdin as NodeJS.WritableStream);
      // A consumer that exits early must not leave the producer blocked on a full pipe.
      consumer.stdin?.on('error', () => undefined);
      const [p, c]: [Settled, Settled] = await Promise.all([producer, consumer]);
      check(p, source, paths, options);
      check(c, sink, paths, options);
      const sourceResult: SourceResult = { exitCode: p.exitCode as number, stderr: String(p.stderr ?? '') };
      return { source: sourceResult, sink: { exitCode: c.exitCode as number, stdout: String(c.stdout ?? ''), stderr: String(c.stderr ?? '') } };
    },
  };
}
