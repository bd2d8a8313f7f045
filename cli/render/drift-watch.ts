// drift --watch as people read it: one line per change, stamped with when it was seen (UTC, to the second:
// a watch runs for days); a drift found carries its why and repair lines, as a drift check prints them.

import type { WatchEvent } from '../../engine/types.js';
import { formatDuration } from '../../shared/durations.js';
import type { painter } from '../output.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function watchEventText(event: WatchEvent, paint: ReturnType<typeof painter>): string {
  const at = `${event.at.slice(0, 19)}Z`;
  const line = (text: string) => `${paint('dim', at)} ${text}\n`;
  switch (event.type) {
    case 'watching': {
      const now = event.drift === 0 && event.unreadable === 0 ? `${paint('green', '✔')} no drift` : plural(event.drift, 'drift');
      const unread = event.unreadable > 0 ? `, ${plural(event.unreadable, 'cluster')} not read` : '';
      const repair = event.repair ? ', repairing what a repair run repairs' : '';
      return line(`watching mesh ${event.mesh} (clusters ${event.clusters.join(', ')}) every ${formatDuration(event.intervalMs)}${repair}: ${now}${unread}`);
    }
    case 'drift-found': {
      const d = event.item;
      return `${line(`${paint('red', '✖')} drift ${paint('bold', d.kind)} ${d.cluster}: ${d.what}`)}    why: ${d.why}\n    repair: ${d.repair}\n`;
    }
    case 'drift-gone':
      return line(`${paint('green', '✔')} drift gone ${paint('bold', event.item.kind)} ${event.item.cluster} (it was: ${event.item.what})`);
    case 'unreadable':
      return line(`${paint('yellow', '?')} ${event.cluster.cluster} (context ${event.cluster.context}) cannot be read: ${event.cluster.error}`);
    case 'readable':
      return line(`${paint('green', '✔')} ${event.cluster} (context ${event.context}) can be read again`);
    case 'check-failed':
      return line(`${paint('red', '✖')} check failed: ${event.error.message}${event.error.hint ? ` (${event.error.hint})` : ''}; trying again each interval`);
    case 'check-recovered':
      return line(`${paint('green', '✔')} checking again`);
    case 'record-failed':
      return line(`${paint('yellow', '!')} the change was not journaled: ${event.error.message}; trying again with the next check`);
    case 'repair-started':
      return line(`repair run ${event.run} started: ${event.repairs.join(', ')}`);
    case 'repair-ended': {
      if (event.status === 'succeeded') return line(`${paint('green', '✔')} repair run ${event.run} succeeded`);
      const why = event.error ? `: ${event.error.message}` : '';
      // An interrupted run is the stop's doing: the watch's last line says how to continue it.
      const next = event.status === 'failed' ? '; trying again next interval' : '';
      return line(`${paint('red', '✖')} repair run ${event.run} ${event.status}${why}${next}`);
    }
    case 'repair-busy':
      return line(`${paint('yellow', '!')} not repaired now: ${event.message}; trying again next interval`);
    case 'repair-refused':
      return line(`${paint('red', '✖')} not repaired: ${event.error.message}${event.error.hint ? ` (${event.error.hint})` : ''}; trying again next interval`);
  }
}
