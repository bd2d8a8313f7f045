// The machine graph's shape and helpers: no XState here, so renderers load without the engine.
import type { StepId } from '../../machines/steps.js';

export interface GraphNode {
  id: string;
  label: string;
  step?: StepId;
  final: boolean;
  // Children laid out as side-by-side regions (a parallel state) rather than a sequence.
  parallel: boolean;
  initial?: string;
  children: GraphNode[];
}

export interface GraphEdge {
  from: string;
  to: string;
  label: string;
}

export interface MachineGraph {
  root: GraphNode;
  edges: GraphEdge[];
}

export function findNode(node: GraphNode, id: string): GraphNode | undefined {
  if (node.id === id) return node;
  for (const child of node.children) {
    const found = findNode(child, id);
    if (found) return found;
  }
  return undefined;
}

export function allNodes(node: GraphNode): GraphNode[] {
  return [node, ...node.children.flatMap(allNodes)];
}
