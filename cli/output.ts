// Where output goes and how it looks: data on stdout, everything else on stderr; colour only on a TTY.
import { styleText } from 'node:util';

export interface Streams {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

// Colour only when the stream is a terminal, NO_COLOR is unset or empty, and TERM is not dumb.
export function shouldColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  if (env.FORCE_COLOR === '0') return false;
  return Boolean(stream.isTTY);
}

export type Style = 'green' | 'red' | 'yellow' | 'cyan' | 'dim' | 'bold';

export function painter(stream: NodeJS.WriteStream): (style: Style, text: string) => string {
  const color = shouldColor(stream);
  return (style, text) => (color ? styleText(style, text, { validateStream: false }) : text);
}

// What became of writing to a stream: the first error it gave (EPIPE when the reader went away, ENOSPC on
// a full disk ...), if any.
export interface OutputHealth {
  failure(stream: 'stdout' | 'stderr'): string | undefined;
  // Everything given to stdout, when asked to keep it (a verb that acts writes little there: its run id and
  // outcome), so that it can be said again on stderr if stdout failed.
  keptStdout(): string;
}

// Output errors are never run errors: once a stream fails, later writes to it are dropped (a run goes on
// to its end), and the failure is remembered so the command can say its output was lost.
export function guardOutput(streams: Streams, options: { keepStdout?: boolean } = {}): OutputHealth {
  const failures: Partial<Record<'stdout' | 'stderr', string>> = {};
  let kept = '';
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = streams[name];
    stream.on('error', (error: NodeJS.ErrnoException) => {
      failures[name] ??= error.code ?? 'EIO';
    });
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    (stream as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
      if (name === 'stdout' && options.keepStdout) kept += typeof args[0] === 'string' ? args[0] : Buffer.isBuffer(args[0]) ? args[0].toString() : '';
      if (failures[name]) {
        const done = args.find((a) => typeof a === 'function') as (() => void) | undefined;
        if (done) queueMicrotask(done);
        return true;
      }
      try {
        return write(...args);
      } catch (error) {
        failures[name] ??= (error as NodeJS.ErrnoException).code ?? 'EIO';
        return true;
      }
    };
  }
  return { failure: (name) => failures[name], keptStdout: () => kept };
}
