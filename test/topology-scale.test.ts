// The topology rules and the views over them at fleet scale: the same answers as the list scans they replace,
// and work that grows with the fleet, not with its cube (config check of 1024 remotes took 46 s). Counted, not
// timed: the figures are in the bench (npm run bench -- config-check).
import { describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../engine/config/mesh-config.js';
import { shapeOf } from '../engine/config/mesh-shape.js';
import { meshView } from '../engine/views/mesh-view.js';
import * as steps from '../machines/steps.js';
import { RUN_KINDS, stepSlots } from '../machines/steps.js';
import type { MeshCluster, MeshShape } from '../machines/topology.js';
import * as topology from '../machines/topology.js';

// Counts meshView's calls into the step table (the original stays in place).
const stepSlotsCalls = vi.hoisted(() => ({ n: 0 }));
vi.mock('../machines/steps.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../machines/steps.js')>();
  return {
    ...original,
    stepSlots: (...args: Parameters<typeof original.stepSlots>) => {
      stepSlotsCalls.n++;
      return original.stepSlots(...args);
    },
  };
});

// The rules as they were written before the member index: a scan of the list each time. The reference the
// indexed ones must agree with, on every shape.
const reference = {
  primariesOf: (s: MeshShape) => s.members.filter((m) => m.role === 'primary'),
  remotesOf: (s: MeshShape, primary?: string) => s.members.filter((m) => m.role === 'remote' && (primary === undefined || m.controlPlane === primary)),
  memberNamed: (s: MeshShape, name: string) => s.members.find((m) => m.name === name),
  controlPlaneOf(s: MeshShape, name: string) {
    const member = reference.memberNamed(s, name);
    if (!member) return undefined;
    return member.role === 'primary' ? member : reference.memberNamed(s, member.controlPlane ?? '');
  },
  networksOf: (s: MeshShape) => [...new Set(s.members.map((m) => m.network))],
  isMultiNetwork: (s: MeshShape) => reference.networksOf(s).length > 1,
  needsGateway(s: MeshShape, name: string) {
    const member = reference.memberNamed(s, name);
    if (!member) return false;
    if (member.role === 'primary') return reference.remotesOf(s, name).length > 0 || reference.isMultiNetwork(s);
    return member.network !== reference.controlPlaneOf(s, name)?.network;
  },
  exposesIstiod: (s: MeshShape, name: string) => reference.memberNamed(s, name)?.role === 'primary' && reference.remotesOf(s, name).length > 0,
  exposesServices: (s: MeshShape, name: string) => reference.memberNamed(s, name)?.role === 'primary' && reference.isMultiNetwork(s),
  labelsNetwork: (s: MeshShape, name: string) => reference.memberNamed(s, name) !== undefined && reference.isMultiNetwork(s),
  secretHoldersOf: (s: MeshShape, name: string) => reference.primariesOf(s).filter((p) => p.name !== name),
  sampleVersionOf(s: MeshShape, name: string): 'v1' | 'v2' {
    const first = reference.primariesOf(s)[0];
    const member = reference.memberNamed(s, name);
    if (!first || !member) return 'v1';
    if (reference.isMultiNetwork(s)) return member.network === first.network ? 'v1' : 'v2';
    return member.name === first.name ? 'v1' : 'v2';
  },
};

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Any list of members, valid or not: remotes naming a primary, a remote, nobody or no one known; one to three
// networks; now and then a name twice.
function randomShape(random: () => number): MeshShape {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  const count = 1 + Math.floor(random() * 30);
  const networks = ['n1', 'n2', 'n3'].slice(0, 1 + Math.floor(random() * 3));
  const members: MeshCluster[] = [];
  for (let i = 0; i < count; i++) {
    const name = i > 0 && random() < 0.05 ? (pick(members) as MeshCluster).name : `c${i}`;
    const role = random() < 0.3 ? 'primary' : 'remote';
    const others = members.map((m) => m.name);
    const controlPlane = role === 'remote' ? pick([...others, 'nowhere', undefined, undefined]) : undefined;
    members.push({ name, context: `ctx-${name}`, role, network: pick(networks), ...(controlPlane === undefined ? {} : { controlPlane }) });
  }
  return { members, trust: random() < 0.5, ...(random() < 0.3 ? { subject: (pick(members) as MeshCluster).name } : {}) };
}

// The rules taking a member's name, as the machines export them.
const INDEXED = {
  remotesOf: topology.remotesOf,
  memberNamed: topology.memberNamed,
  controlPlaneOf: topology.controlPlaneOf,
  needsGateway: topology.needsGateway,
  exposesIstiod: topology.exposesIstiod,
  exposesServices: topology.exposesServices,
  labelsNetwork: topology.labelsNetwork,
  secretHoldersOf: topology.secretHoldersOf,
  sampleVersionOf: topology.sampleVersionOf,
};

describe('the topology rules on an index of the members', () => {
  it('give the answers the list scans gave, for every member of 300 random shapes (and a name that is no member)', () => {
    const random = seeded(8);
    for (let n = 0; n < 300; n++) {
      const shape = randomShape(random);
      expect(topology.primariesOf(shape)).toEqual(reference.primariesOf(shape));
      expect(topology.remotesOf(shape)).toEqual(reference.remotesOf(shape));
      expect(topology.networksOf(shape)).toEqual(reference.networksOf(shape));
      expect(topology.isMultiNetwork(shape)).toBe(reference.isMultiNetwork(shape));
      const wrong: string[] = [];
      for (const name of [...shape.members.map((m) => m.name), 'nowhere', '']) {
        for (const [rule, indexed] of Object.entries(INDEXED) as Array<[keyof typeof INDEXED, (s: MeshShape, n: string) => unknown]>) {
          const expected = reference[rule](shape, name);
          if (JSON.stringify(indexed(shape, name)) !== JSON.stringify(expected)) wrong.push(`${rule}(${name})`);
        }
      }
      expect(wrong, JSON.stringify(shape.members)).toEqual([]);
    }
  });

  it('read the member list a bounded number of times per member: every step table and every plan of twice the fleet reads it about twice as often', () => {
    // A fleet's member list that counts the elements read from it.
    const reads = (remotes: number) => {
      let n = 0;
      const members: MeshCluster[] = [
        { name: 'east-1', context: 'east-1', role: 'primary', network: 'east' },
        { name: 'west-1', context: 'west-1', role: 'primary', network: 'west' },
      ];
      for (let i = 0; i < remotes; i++)
        members.push({ name: `r${i}`, context: `r${i}`, role: 'remote', network: i % 3 ? 'east' : 'west', controlPlane: i % 2 ? 'east-1' : 'west-1' });
      const counted = new Proxy(members, {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) n++;
          return Reflect.get(target, key, receiver);
        },
      });
      const shape: MeshShape = { members: counted, trust: true };
      for (const kind of RUN_KINDS) stepSlots(kind, shape);
      for (const m of members) {
        topology.memberPlan(shape, m.name);
        topology.needsGateway(shape, m.name);
        topology.secretHoldersOf(shape, m.name);
      }
      return n;
    };
    const small = reads(100);
    const large = reads(200);
    // Linear: twice the fleet, about twice the reads (a scan per member would be four times, per step slot more).
    expect(large / small).toBeLessThan(2.5);
  });
});

// A mixed fleet: two primaries on two networks, remotes of each on both networks.
function mixedFleet(remotes: number): string {
  const lines = ['meshID: fleet', 'network: east', 'trust: {outputDir: ./certs}', 'clusters:'];
  lines.push('  - {name: east-1, context: east-1, role: primary}', '  - {name: west-1, context: west-1, role: primary, network: west}');
  for (let i = 0; i < remotes; i++)
    lines.push(`  - {name: r${i}, context: r${i}, role: remote, controlPlane: ${i % 2 ? 'east-1' : 'west-1'}, network: ${i % 3 ? 'east' : 'west'}}`);
  return `${lines.join('\n')}\n`;
}

describe('config check (meshView)', () => {
  it("lists each cluster's steps as the step table has them, per run kind, for a mixed fleet", () => {
    const config = parseConfigText(mixedFleet(40));
    const view = meshView(config);
    const shape = shapeOf(config);
    for (const c of view.clusters) {
      for (const kind of ['install', 'verify', 'uninstall'] as const) {
        const expected = steps
          .stepSlots(kind, shape)
          .filter((s) => s.cluster === c.name)
          .map((s) => s.step);
        expect(c.steps[kind], `${kind} on ${c.name}`).toEqual(expected);
      }
      expect(c.eastWestGateway).toBe(reference.needsGateway(shape, c.name));
      expect(c.exposesIstiod).toBe(reference.exposesIstiod(shape, c.name));
      expect(c.secretOn).toEqual(reference.secretHoldersOf(shape, c.name).map((p) => p.name));
    }
    expect(view.clusters.find((c) => c.name === 'r0')?.steps.install).toEqual([
      'label-network',
      'create-remote-namespace',
      'annotate-remote-namespace',
      'install-remote',
      'attach-remote',
      'exchange-secret',
    ]);
  });

  it('asks the step table once per run kind, however large the fleet', () => {
    for (const remotes of [4, 256]) {
      stepSlotsCalls.n = 0;
      meshView(parseConfigText(mixedFleet(remotes)));
      expect(stepSlotsCalls.n, `${remotes} remotes`).toBe(3);
    }
  });
});
