// A run kind's machine as a graph, read from the machine definition itself (states, guards, regions),
// for `mesh-run graph` and the HTML report. Step states (running/failed pairs) are folded into one node.
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { isStepId, type RunKind, type StepId } from '../../machines/steps.js';
import { WORKFLOWS } from '../kinds/workflows.js';
import type { GraphEdge, GraphNode, MachineGraph } from './graph-model.js';
import { findNode } from './graph-model.js';

// The step a state stands for (machines put it in the state's meta).
function stepOf(node: AnyStateNode): StepId | undefined {
  const step: unknown = node.meta?.step;
  return typeof step === 'string' && isStepId(step) ? step : undefined;
}

const CHILD_PREFIX = 'each';

// and([...]) makes a function that carries the guards it combines.
function combinedGuards(guard: unknown): unknown[] | undefined {
  const guards: unknown = typeof guard === 'function' ? Reflect.get(guard, 'guards') : undefined;
  return Array.isArray(guards) ? guards : undefined;
}

function guardLabel(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  const combined = combinedGuards(guard);
  if (combined) return combined.map(guardLabel).join(' ∧ ');
  if (guard && typeof guard === 'object' && 'type' in guard) return String((guard as { type: unknown }).type);
  return guard ? 'guard' : '';
}

function eventLabel(eventType: string): string {
  if (eventType.startsWith('xstate.done.actor')) return 'done';
  if (eventType.startsWith('xstate.error.actor')) return 'error';
  if (eventType.startsWith('xstate.done.state')) return 'all regions done';
  return eventType;
}

// A step state: only "running" and "failed" inside, so one node says it all.
function isFoldedStep(node: AnyStateNode): boolean {
  const keys = Object.keys(node.states);
  return Boolean(stepOf(node)) && keys.length === 2 && keys.includes('running') && keys.includes('failed');
}

function build(machine: AnyStateMachine, prefix: string): MachineGraph {
  const edges: GraphEdge[] = [];
  const folded = new Map<string, string>();
  const rename = (id: string) => `${prefix}${id}`;

  const visit = (node: AnyStateNode): GraphNode => {
    const id = rename(node.id);
    if (isFoldedStep(node)) {
      for (const child of Object.values(node.states)) folded.set(child.id, node.id);
      const step = stepOf(node);
      return { id, label: step ?? node.key, ...(step ? { step } : {}), final: false, parallel: false, children: [] };
    }
    const children = Object.values(node.states).map(visit);
    const initial = node.initial?.target[0]?.id;
    const step = stepOf(node);
    return {
      id,
      label: step ?? node.key,
      ...(step ? { step } : {}),
      final: node.type === 'final',
      parallel: node.type === 'parallel',
      ...(initial ? { initial: rename(initial) } : {}),
      children,
    };
  };
  const root = visit(machine.root);

  const collect = (node: AnyStateNode) => {
    const from = rename(folded.get(node.id) ?? node.id);
    const all = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    for (const t of all) {
      for (const target of t.target ?? []) {
        const to = rename(folded.get(target.id) ?? target.id);
        const event = t.eventType ? eventLabel(t.eventType) : '';
        const guard = guardLabel(t.guard);
        const label = [event, guard ? `[${guard}]` : ''].filter(Boolean).join(' ');
        // Inside a folded step: running -error-> failed -RETRY-> running becomes one self-loop.
        if (from === to && folded.has(node.id)) {
          if (!edges.some((e) => e.from === from && e.to === to)) edges.push({ from, to, label: 'error / RETRY' });
          continue;
        }
        if (!edges.some((e) => e.from === from && e.to === to && e.label === label)) edges.push({ from, to, label });
      }
    }
    for (const child of Object.values(node.states)) collect(child);
  };
  collect(machine.root);
  return { root, edges };
}

// The whole flow of a run kind: its machine, with each per-cluster child machine inside the state that spawns it.
export function machineGraph(kind: RunKind = 'install'): MachineGraph {
  const workflow = WORKFLOWS[kind];
  const main = build(workflow.machine, '');
  const edges = [...main.edges];
  workflow.children.forEach((spec, i) => {
    const child = build(spec.machine, `${CHILD_PREFIX}${workflow.children.length > 1 ? i + 1 : ''}:`);
    child.root.label = spec.label;
    const host = findNode(main.root, spec.spawnedIn);
    host?.children.push(child.root);
    // The children run side by side, one per cluster.
    if (host) host.parallel = true;
    edges.push(...child.edges);
  });
  return { root: main.root, edges };
}
