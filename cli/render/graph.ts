// Renders the machine graph as Mermaid (stateDiagram-v2) or Graphviz DOT, optionally marking a run's progress.
import type { GraphNode, MachineGraph, StepId } from '../../engine/types.js';

export type StepMark = 'done' | 'failed' | 'current';

const safe = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');
const quote = (text: string) => text.replace(/"/g, "'");

export function toMermaid(graph: MachineGraph, marks: ReadonlyMap<StepId, StepMark> = new Map()): string {
  const lines = ['stateDiagram-v2'];
  const emit = (node: GraphNode, depth: number) => {
    const pad = '  '.repeat(depth);
    if (node.children.length === 0) {
      lines.push(`${pad}state "${quote(node.label)}" as ${safe(node.id)}`);
      return;
    }
    lines.push(`${pad}state "${quote(node.label)}" as ${safe(node.id)} {`);
    if (node.initial) lines.push(`${pad}  [*] --> ${safe(node.initial)}`);
    node.children.forEach((child, i) => {
      if (node.parallel && i > 0) lines.push(`${pad}  --`);
      emit(child, depth + 1);
      if (child.final) lines.push(`${pad}  ${safe(child.id)} --> [*]`);
    });
    lines.push(`${pad}}`);
  };
  const root = graph.root;
  if (root.initial) lines.push(`  [*] --> ${safe(root.initial)}`);
  for (const child of root.children) {
    emit(child, 1);
    if (child.final) lines.push(`  ${safe(child.id)} --> [*]`);
  }
  for (const e of graph.edges) lines.push(`  ${safe(e.from)} --> ${safe(e.to)}${e.label ? ` : ${quote(e.label)}` : ''}`);
  if (marks.size > 0) {
    lines.push(
      '  classDef done fill:#d3f9d8,stroke:#2b8a3e',
      '  classDef failed fill:#ffe3e3,stroke:#c92a2a',
      '  classDef current fill:#d0ebff,stroke:#1864ab',
    );
    for (const node of allSteps(root)) {
      const mark = node.step ? marks.get(node.step) : undefined;
      if (mark) lines.push(`  class ${safe(node.id)} ${mark}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function toDot(graph: MachineGraph, marks: ReadonlyMap<StepId, StepMark> = new Map()): string {
  const fill: Record<StepMark, string> = { done: '#d3f9d8', failed: '#ffe3e3', current: '#d0ebff' };
  const lines = ['digraph mesh_run {', '  compound=true; rankdir=TB; node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];'];
  const emit = (node: GraphNode, depth: number) => {
    const pad = '  '.repeat(depth);
    if (node.children.length === 0) {
      const mark = node.step ? marks.get(node.step) : undefined;
      lines.push(`${pad}"${node.id}" [label="${quote(node.label)}"${node.final ? ', shape=doublecircle' : ''}${mark ? `, fillcolor="${fill[mark]}"` : ''}];`);
      return;
    }
    lines.push(`${pad}subgraph "cluster_${node.id}" {`, `${pad}  label="${quote(node.label)}${node.parallel ? ' (parallel)' : ''}"; style=rounded;`);
    const mark = node.step ? marks.get(node.step) : undefined;
    if (mark) lines.push(`${pad}  style="rounded,filled"; fillcolor="${fill[mark]}";`);
    // An anchor so edges can point at a composite state.
    lines.push(`${pad}  "${node.id}" [shape=point, width=0.05];`);
    for (const child of node.children) emit(child, depth + 1);
    lines.push(`${pad}}`);
  };
  for (const child of graph.root.children) emit(child, 1);
  for (const e of graph.edges) lines.push(`  "${e.from}" -> "${e.to}"${e.label ? ` [label="${quote(e.label)}"]` : ''};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function allSteps(node: GraphNode): GraphNode[] {
  return [...(node.step ? [node] : []), ...node.children.flatMap(allSteps)];
}
