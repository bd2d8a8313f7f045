// The tool processes of a run: those this driver started (their process groups, killed at once when the
// user insists on leaving) and those a killed driver left behind (orphans, stopped before a resume runs).
import { processesOfRun, processState, startedOnThisBoot, stopProcessGroup } from '../../adapters/processes.js';
import type { RunSession } from './run-session.js';

export class ProcessGroups {
  // Process groups of the real tool commands running now.
  private readonly live = new Set<number>();

  constructor(private readonly session: RunSession) {}

  started(pgid: number): void {
    this.live.add(pgid);
  }

  ended(groups: readonly number[]): void {
    for (const g of groups) this.live.delete(g);
  }

  // Kills every tool process this driver started, at once.
  killAll(): void {
    for (const pgid of this.live) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  // Stops the tool processes of this run that are still running without a driver, and journals each one.
  async stopOrphans(): Promise<void> {
    const s = this.session;
    const recorded = (await s.store.listCommands(s.runId)).filter((c) => c.endedAt === null && c.pid !== null);
    const found = new Map<number, { pgid: number; command: string }>();
    for (const c of recorded) {
      const command = c.argv.slice(0, 4).join(' ');
      if (!startedOnThisBoot(c.procStart)) {
        if (c.procStart) {
          await s.store.addEvent(
            s.runId,
            s.leaseToken,
            'orphan-unreachable',
            s.operator,
            s.now(),
            `${command} (pid ${c.pid}) was started on another machine or before a reboot; it cannot be checked from here`,
          );
        }
        continue;
      }
      if (processState(c.pid as number, c.procStart) === 'alive') found.set(c.pid as number, { pgid: c.pgid ?? (c.pid as number), command });
    }
    for (const p of processesOfRun(s.runId)) if (!found.has(p.pid)) found.set(p.pid, { pgid: p.pgid, command: p.command });
    for (const [pid, p] of found) {
      await stopProcessGroup(p.pgid);
      await s.store.addEvent(
        s.runId,
        s.leaseToken,
        'orphan-stopped',
        s.operator,
        s.now(),
        `stopped ${p.command} (pid ${pid}, process group ${p.pgid}), left running by the driver that died`,
      );
    }
  }
}
