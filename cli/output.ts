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

// `mesh-run ... | head` closes the pipe early: exit quietly instead of crashing with EPIPE.
export function exitQuietlyOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
