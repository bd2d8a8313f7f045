// Which processes are alive, told apart from a reused pid: on Linux a process is named by its pid plus
// "<boot id>:<start time in clock ticks>", read from /proc. A zombie (dead, not yet reaped) counts as dead.
// Elsewhere only the pid can be checked.
import { readdirSync, readFileSync } from 'node:fs';

export type ProcessState = 'alive' | 'zombie' | 'gone';

let bootId: string | undefined;

function readBootId(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootId = '';
    }
  }
  return bootId;
}

// The fields of /proc/<pid>/stat after the command name (which may itself hold spaces and parentheses).
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

// A process's identity beyond its pid, or undefined where /proc cannot tell (not Linux, already gone).
export function processStart(pid: number): string | undefined {
  const fields = statFields(pid);
  // Field 22 of stat (starttime) is index 19 after the state field.
  const start = fields?.[19];
  return start ? `${readBootId()}:${start}` : undefined;
}

// Whether `pid` still runs, and is still the process that `start` names (when given).
export function processState(pid: number, start?: string | null): ProcessState {
  if (!Number.isInteger(pid) || pid <= 0) return 'gone';
  const fields = statFields(pid);
  if (fields) {
    if (fields[0] === 'Z' || fields[0] === 'X') return 'zombie';
    if (start && processStart(pid) !== start) return 'gone';
    return 'alive';
  }
  if (readBootId() !== '') return 'gone';
  try {
    process.kill(pid, 0);
    return 'alive';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? 'alive' : 'gone';
  }
}

// Whether a recorded start belongs to this machine's current boot (so its pid can be acted on here).
export function startedOnThisBoot(start: string | null | undefined): boolean {
  return Boolean(start) && readBootId() !== '' && (start as string).startsWith(`${readBootId()}:`);
}

// The environment variable every real tool process of a run carries, so a later driver can find it.
export const RUN_MARKER = 'MESH_RUN_RUN_ID';

// Processes (not this one) whose environment names `runId`: children a killed driver left behind.
export function processesOfRun(runId: string): Array<{ pid: number; pgid: number; start: string | undefined; command: string }> {
  const found: Array<{ pid: number; pgid: number; start: string | undefined; command: string }> = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return found;
  }
  const needle = `\0${RUN_MARKER}=${runId}\0`;
  for (const entry of entries) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const environ = `\0${readFileSync(`/proc/${pid}/environ`, 'latin1')}`;
      if (!environ.includes(needle)) continue;
      const fields = statFields(pid);
      if (!fields || fields[0] === 'Z') continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 4).join(' ');
      found.push({ pid, pgid: Number(fields[2]), start: processStart(pid), command });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

// Stops a process group: SIGTERM, then SIGKILL after `graceMs`; resolves once none of it is left.
export async function stopProcessGroup(pgid: number, graceMs = 5000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // already gone
    }
  };
  // The group leader's state where /proc tells it (a zombie leader is gone), else whether the group exists.
  const alive = () => {
    if (readBootId() !== '') return processState(pgid) === 'alive';
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  signal('SIGTERM');
  // A stopped process handles SIGTERM only once it runs again.
  signal('SIGCONT');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive()) signal('SIGKILL');
  const hard = Date.now() + 2000;
  while (alive() && Date.now() < hard) await new Promise((r) => setTimeout(r, 50));
}
