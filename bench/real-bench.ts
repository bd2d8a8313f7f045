// npm run bench:real: mesh-run against the Istio page's commands run by hand, on real API servers (the kwok
// harness) with the real kubectl and istioctl. The hand-run side is `mesh-run plan -o sh`: the same commands in
// page order, as a bash script. Per topology (1 and 2 remotes) and verb (install, uninstall): the median of 3
// makespans of each, alternating which goes first, on the same clusters emptied between attempts, and the
// kubectl/istioctl processes each spawned (counted by wrappers). Prints figures; asserts nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TRIALS = Number(process.env.MESH_RUN_BENCH_TRIALS ?? 3);
const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
const STATE = process.env.MESH_RUN_E2E_STATE ?? join(process.env.TMPDIR ?? tmpdir(), 'mesh-run-e2e');
const CACHE = process.env.MESH_RUN_E2E_CACHE ?? join(homedir(), '.cache', 'mesh-run-e2e');
const KUBECONFIG = join(STATE, 'kubeconfig');
const work = mkdtempSync(join(tmpdir(), 'mesh-run-bench-real-'));
const counts = join(work, 'processes');

function sh(argv: string[], env: Record<string, string> = {}): { code: number; ms: number; stderr: string } {
  const started = performance.now();
  const result = spawnSync(argv[0] as string, argv.slice(1), {
    env: { ...process.env, KUBECONFIG, MESH_RUN_COUNT: counts, NO_COLOR: '1', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: result.status ?? -1, ms: performance.now() - started, stderr: result.stderr ?? '' };
}

// Wrappers that count every kubectl and istioctl process, then run the real binary.
function wrappers(): { kubectl: string; istioctl: string } {
  const dir = join(work, 'bin');
  spawnSync('mkdir', ['-p', dir]);
  const real = {
    kubectl: execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim(),
    istioctl: join(CACHE, readdirSync(CACHE).find((d) => d.startsWith('istioctl-')) ?? 'missing', 'istioctl'),
  };
  const paths = { kubectl: join(dir, 'kubectl'), istioctl: join(dir, 'istioctl') };
  for (const tool of ['kubectl', 'istioctl'] as const) {
    writeFileSync(paths[tool], `#!/bin/sh\necho ${tool} >> "$MESH_RUN_COUNT"\nexec '${real[tool]}' "$@"\n`);
    chmodSync(paths[tool], 0o755);
  }
  return paths;
}

const server = (context: string) =>
  execFileSync('kubectl', ['--kubeconfig', KUBECONFIG, '--context', context, 'config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'], {
    encoding: 'utf8',
  }).trim();

function config(remotes: string[], tools: { kubectl: string; istioctl: string }): string {
  const file = join(work, `mesh-${remotes.length}.yaml`);
  writeFileSync(
    file,
    [
      'meshID: bench',
      'clusters:',
      '  - {name: cluster1, context: cluster1, role: primary}',
      ...remotes.map((r) => `  - {name: ${r}, context: ${r}, role: remote, apiServer: "${server(r)}"}`),
      'timeouts: {gatewayAddress: 90s, command: 4m}',
      `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}`,
      '',
    ].join('\n'),
  );
  return file;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

interface Sample {
  ms: number;
  processes: number;
}

function measure(argv: string[], what: string): Sample {
  writeFileSync(counts, '');
  const run = sh(argv);
  if (run.code !== 0) throw new Error(`${what} exited ${run.code}: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return { ms: run.ms, processes: readFileSync(counts, 'utf8').split('\n').filter(Boolean).length };
}

function main(): void {
  if (!existsSync(cli)) throw new Error('dist/cli/main.js is missing: npm run build first');
  const up = spawnSync('bash', [join(root, 'test/e2e/harness/up.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (up.status !== 0) throw new Error('the kwok harness did not come up (test/e2e/harness/up.sh)');
  writeFileSync(join(STATE, 'lb-mode'), 'ip 0\n');
  const tools = wrappers();
  const rows: string[][] = [];
  for (const remotes of [['cluster2'], ['cluster2', 'cluster3']]) {
    const file = config(remotes, tools);
    const db = join(work, `bench-${remotes.length}.db`);
    const scripts = { install: join(work, `install-${remotes.length}.sh`), uninstall: join(work, `uninstall-${remotes.length}.sh`) };
    for (const verb of ['install', 'uninstall'] as const) {
      const plan = spawnSync('node', [cli, 'plan', ...(verb === 'uninstall' ? ['uninstall'] : []), '-c', file, '-o', 'sh'], { encoding: 'utf8' });
      if (plan.status !== 0) throw new Error(`plan ${verb}: ${plan.stderr}`);
      writeFileSync(scripts[verb], plan.stdout);
    }
    const samples = { mesh: { install: [] as Sample[], uninstall: [] as Sample[] }, script: { install: [] as Sample[], uninstall: [] as Sample[] } };
    for (let trial = 0; trial < TRIALS; trial++) {
      const order = trial % 2 === 0 ? (['mesh', 'script'] as const) : (['script', 'mesh'] as const);
      for (const who of order) {
        if (who === 'mesh') {
          samples.mesh.install.push(measure(['node', cli, 'install', '-c', file, '--db', db, '-q'], 'mesh-run install'));
          samples.mesh.uninstall.push(measure(['node', cli, 'uninstall', '-c', file, '--db', db, '--yes', '-q'], 'mesh-run uninstall'));
        } else {
          samples.script.install.push(measure(['bash', scripts.install], 'the install script'));
          samples.script.uninstall.push(measure(['bash', scripts.uninstall], 'the uninstall script'));
        }
        process.stderr.write(`${remotes.length} remote(s), trial ${trial + 1}: ${who} done\n`);
      }
    }
    for (const verb of ['install', 'uninstall'] as const) {
      const m = median(samples.mesh[verb].map((s) => s.ms));
      const s = median(samples.script[verb].map((x) => x.ms));
      rows.push([
        `${verb}, ${remotes.length} remote${remotes.length > 1 ? 's' : ''}`,
        `${(m / 1000).toFixed(1)} s`,
        `${(s / 1000).toFixed(1)} s`,
        (m / s).toFixed(2),
        `${samples.mesh[verb].map((x) => (x.ms / 1000).toFixed(1)).join('/')} vs ${samples.script[verb].map((x) => (x.ms / 1000).toFixed(1)).join('/')}`,
        `${median(samples.mesh[verb].map((x) => x.processes))} vs ${median(samples.script[verb].map((x) => x.processes))}`,
      ]);
    }
  }
  const header = ['run', 'mesh-run (median)', 'page script (median)', 'ratio', 'each trial (s)', 'kubectl+istioctl processes'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write(`mesh-run vs the page's commands (mesh-run plan -o sh), real kube-apiservers (kwok), median of ${TRIALS}\n`);
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
}

try {
  main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
