// For verbs that watch until something ends (status --watch, logs --follow): Ctrl-C or SIGTERM stops the
// watching, not the run, and the verb exits 130 through the entry point.
import { ExitCode } from '../shared/errors.js';
import { ExitRequest } from './exit.js';

export async function untilInterrupted<T>(watch: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stopping = new AbortController();
  const stop = () => stopping.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const value = await watch(stopping.signal);
    if (stopping.signal.aborted) throw new ExitRequest(ExitCode.sigint);
    return value;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
