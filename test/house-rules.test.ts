// The house's rules, read from the code: file sizes, which folder may import which, the CLI's one face onto
// the engine, and run kinds declared in their modules rather than branched on by name.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RUN_KINDS } from '../shared/model.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = ['cli', 'engine', 'machines', 'adapters', 'store', 'shared', 'bench'];

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return filesUnder(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const sources = SOURCE.flatMap(filesUnder);
const text = new Map(sources.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));

// Every relative module a file imports (static or dynamic), as a path from the root.
function importsOf(file: string): string[] {
  const found = [...(text.get(file) ?? '').matchAll(/(?:from\s+|import\()\s*'(\.[^']+)'/g)].map((m) => m[1] as string);
  return found.map((spec) => normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
}

// A folder may import its own files and the folders below it.
const RANK: Record<string, number> = { shared: 0, machines: 1, store: 1, adapters: 2, engine: 3, cli: 4, bench: 4 };
// Inside engine/, the same: entry modules over views/ over runtime/ over kinds/ over activities/ and config/.
const ENGINE_RANK = (path: string): number => {
  const part = path.split('/')[1] ?? '';
  if (part === 'activities' || part === 'config') return 0;
  if (part === 'kinds') return 1;
  if (part === 'runtime') return 2;
  if (part === 'views') return 3;
  return 4;
};

describe('the house rules', () => {
  it('keeps every source file at 400 lines or fewer', () => {
    const long = sources.map((f) => [f, (text.get(f) ?? '').split('\n').length - 1] as const).filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });

  it('lets no import run upward, between folders or inside engine/', () => {
    const upward: string[] = [];
    for (const file of sources) {
      const from = file.split('/')[0] as string;
      for (const target of importsOf(file)) {
        const to = target.split('/')[0] as string;
        if (!(to in RANK)) continue;
        if ((RANK[to] as number) > (RANK[from] as number)) upward.push(`${file} -> ${target}`);
        else if (from === 'engine' && to === 'engine' && ENGINE_RANK(target) > ENGINE_RANK(file)) upward.push(`${file} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('gives the CLI one face onto the engine: four modules, and nothing from machines/, store/ or adapters/', () => {
    const faces = new Set<string>();
    const below: string[] = [];
    for (const file of sources.filter((f) => f.startsWith('cli/'))) {
      for (const target of importsOf(file)) {
        if (target.startsWith('engine/')) faces.add(relative('engine', target));
        if (/^(machines|store|adapters)\//.test(target)) below.push(`${file} -> ${target}`);
      }
    }
    expect(below).toEqual([]);
    expect([...faces].sort()).toEqual(['composition.ts', 'query-api.ts', 'run-api.ts', 'types.ts']);
  });

  it('lists the run kinds in one place and branches on a kind by name at most 8 times', () => {
    const lists = sources.filter((f) => /\bRUN_KINDS\s*=\s*\[/.test(text.get(f) ?? ''));
    expect(lists).toEqual(['shared/model.ts']);
    const names = RUN_KINDS.join('|');
    const branch = new RegExp(`(kind|Kind)\\s*[!=]==\\s*'(${names})'|case '(${names})':|'(${names})'\\s*[!=]==\\s*[\\w.]*[kK]ind`, 'g');
    const branches = sources.flatMap((f) => [...(text.get(f) ?? '').matchAll(branch)].map((m) => `${f}: ${m[0]}`));
    expect(branches.length, branches.join('\n')).toBeLessThanOrEqual(8);
  });

  it('registers a module for every run kind', async () => {
    const { KINDS } = await import('../engine/kinds/registry.js');
    const { WORKFLOWS } = await import('../engine/kinds/workflows.js');
    for (const kind of RUN_KINDS) {
      expect(KINDS[kind].kind).toBe(kind);
      expect(WORKFLOWS[kind].kind).toBe(kind);
      for (const before of KINDS[kind].plan.after) expect(RUN_KINDS).toContain(before);
    }
  });
});
