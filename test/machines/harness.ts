// Drives a machine in-process with fake step actors: no I/O, no store, only a log of which step ran on which
// cluster (and with which input) and of what the machine journaled. Every fake logs the step id its input
// names, so a state invoking the wrong actor, or the right actor with the wrong step, shows in the log.
import { fromPromise } from 'xstate';
import type { StepOutcomeParams } from '../../machines/types.js';

interface StepIn {
  step: string;
  cluster: string;
}

export interface ScriptOptions {
  // "step@cluster" slots whose first run fails (a retryable failure, as a flaky command would).
  failOnce?: string[];
  // Slots that fail every time they run.
  failAlways?: string[];
  // Slots that wait until release(slot).
  hold?: string[];
  // What a step finishes with, by step id (default: { finishedAt: 1 }).
  outputs?: Record<string, (input: never) => unknown>;
}

// The step id an actor stands for: its name in kebab case (the gateway probe polls await-gateway-address).
function stepOfActor(name: string): string {
  if (name === 'probeGatewayAddress') return 'await-gateway-address';
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export class Script {
  // "step@cluster", in the order the actors were invoked.
  readonly calls: string[] = [];
  // "ok step@cluster" or "failed step@cluster: message", in the order the machines recorded them.
  readonly journal: string[] = [];
  private readonly inputs = new Map<string, unknown[]>();
  private readonly failed = new Set<string>();
  private readonly held = new Map<string, () => void>();

  constructor(private readonly options: ScriptOptions = {}) {}

  // A fake actor standing for the step actor `name`.
  actor(name: string) {
    return fromPromise(async ({ input }: { input: StepIn }) => {
      const expected = stepOfActor(name);
      const slot = `${input.step === expected ? input.step : `${name}!=${input.step}`}@${input.cluster}`;
      this.calls.push(slot);
      this.inputs.set(slot, [...(this.inputs.get(slot) ?? []), input]);
      if (this.options.hold?.includes(slot)) await new Promise<void>((resolve) => this.held.set(slot, resolve));
      const failsNow = this.options.failOnce?.includes(slot) && !this.failed.has(slot);
      if (failsNow || this.options.failAlways?.includes(slot)) {
        this.failed.add(slot);
        throw { message: `${slot} broke`, retryable: true };
      }
      const output = this.options.outputs?.[input.step];
      return output ? output(input as never) : { finishedAt: 1 };
    });
  }

  // Fake actors for each of these names.
  actors(...names: string[]): Record<string, ReturnType<Script['actor']>> {
    return Object.fromEntries(names.map((n) => [n, this.actor(n)]));
  }

  // The journal actions the engine binds, writing to this script's journal.
  readonly journalActions = {
    recordStepSucceeded: (_: unknown, p: StepOutcomeParams) => void this.journal.push(`ok ${p.step}@${p.cluster}`),
    recordStepFailed: (_: unknown, p: StepOutcomeParams) => {
      const failure = p.failure && 'message' in p.failure ? p.failure.message : JSON.stringify(p.failure);
      this.journal.push(`failed ${p.step}@${p.cluster}: ${failure}`);
    },
  };

  release(slot: string): void {
    const resolve = this.held.get(slot);
    if (!resolve) throw new Error(`${slot} is not held (held: ${[...this.held.keys()].join(', ') || 'none'})`);
    this.held.delete(slot);
    resolve();
  }

  // The steps that ran on `cluster`, in order.
  ran(cluster: string): string[] {
    return this.calls.filter((c) => c.endsWith(`@${cluster}`)).map((c) => c.slice(0, c.lastIndexOf('@')));
  }

  count(slot: string): number {
    return this.calls.filter((c) => c === slot).length;
  }

  // The input the n-th run of `slot` received.
  inputOf<T>(slot: string, n = 0): T {
    const input = this.inputs.get(slot)?.[n];
    if (input === undefined) throw new Error(`${slot} did not run ${n + 1} time(s); ran: ${this.calls.join(', ')}`);
    return input as T;
  }

  // What the machines journaled as succeeded, as "step@cluster".
  succeeded(): string[] {
    return this.journal.filter((j) => j.startsWith('ok ')).map((j) => j.slice(3));
  }
}

export const pause = fromPromise(async () => undefined);

// Lets every promise and every queued event run: the fakes resolve at once, so a few turns finish a run.
export async function settle(): Promise<void> {
  for (let i = 0; i < 100; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface WithChildren {
  getSnapshot(): { children: Record<string, unknown> };
}

interface ChildSnapshot<C> {
  context: C;
  status: string;
  value: unknown;
  hasTag(tag: string): boolean;
}

// A spawned child's snapshot, by its id.
export function childOf<C>(actor: WithChildren, id: string): ChildSnapshot<C> {
  const child = actor.getSnapshot().children[id] as { getSnapshot(): ChildSnapshot<C> } | undefined;
  if (!child) throw new Error(`no child ${id} (children: ${Object.keys(actor.getSnapshot().children).join(', ')})`);
  return child.getSnapshot();
}

export const retry = { type: 'RETRY' as const, at: 10, gatewayTimeoutMs: 60_000 };
