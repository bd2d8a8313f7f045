// The crash matrix of a repair (issue 30): a dry-run mesh with four kinds of drift (a remote secret deleted, the
// remote's network label removed, its control-plane annotation naming another cluster, the cross-network Gateway
// deleted), repaired by a process SIGKILLed at one crash point (store/crash-points.ts), then resumed (or, killed
// before its run was recorded, repaired again). It must end where an uninterrupted repair ends: the run
// succeeded with a complete journal and no finished step run twice (crashAndResume), drift finds nothing, and
// what must happen once happened once. Shared by test/repair-crash.test.ts (representative points) and
// test/deep/repair-crash.deep.test.ts (every point).
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli } from './cli.js';
import { type Choose, copyDb, crashAndResume, type Matrix, onlyRunId, reference, tryPoints } from './crash-resume.js';
import * as engine from './engine.js';
import { copyExamples } from './examples.js';
import { type Journal, readJournal } from './journal.js';
import { simCommand } from './sim.js';

export const REPAIR_ARGS = ['repair', '--mesh', 'mesh1', '-q'];

// What the drift check finds before the repair, and the repair steps that put it back.
export const DRIFTED = ['network-label@cluster2', 'control-plane-annotation@cluster2', 'remote-secret-missing@cluster1', 'expose-services@cluster1'];
export const REPAIR_STEPS = ['repair-annotation@cluster2', 'repair-expose@cluster1', 'repair-label@cluster2', 'repair-secret@cluster1'];

// Acts a step takes only after observing they are needed: a resumed step finds them done and does not repeat them.
const GATED_ACTS = [
  'kubectl --context=cluster2 label namespace istio-system topology.istio.io/network=network2 --overwrite',
  'kubectl --context=cluster2 annotate namespace istio-system topology.istio.io/controlPlaneClusters=cluster1 --overwrite',
];

// The installed mesh in `db`, with the four drifts made by hand on its simulated clusters.
export async function driftedTemplate(dir: string, db: string): Promise<void> {
  const examples = join(dir, 'repair-examples');
  copyExamples(examples);
  const run = await engine.install(db, { config: join(examples, 'primary-remote-multi-network.yaml') });
  expect(run.status).toBe('succeeded');
  const world = (await readJournal(db, run.id)).run.simWorld;
  const changes: Array<[string, string[]]> = [
    ['cluster1', ['-n', 'istio-system', 'delete', 'secret', 'istio-remote-secret-cluster2']],
    ['cluster2', ['label', 'namespace', 'istio-system', 'topology.istio.io/network-']],
    ['cluster2', ['annotate', 'namespace', 'istio-system', 'topology.istio.io/controlPlaneClusters=cluster9', '--overwrite']],
    ['cluster1', ['-n', 'istio-system', 'delete', 'gateway.networking.istio.io', 'cross-network-gateway']],
  ];
  for (const [context, args] of changes) {
    const result = await simCommand(db, world, context, args);
    expect(result.exitCode, `kubectl ${args.join(' ')}: ${result.stderr}`).toBe(0);
  }
}

// What drift finds on the mesh in `db` (its exit code, and kind@cluster of each drift).
export async function driftOf(db: string): Promise<{ code: number | null; found: string[] }> {
  const result = await runCli(['drift', '--mesh', 'mesh1', '--db', db, '-o', 'json']);
  const report = JSON.parse(result.stdout) as { drift: Array<{ kind: string; cluster: string }> };
  return { code: result.code, found: report.drift.map((d) => `${d.kind}@${d.cluster}`) };
}

// The reader account's token secrets on the remote: create-remote-secret makes one only when there is none, so
// a repair-secret run again must not leave a second.
function readerTokens(journal: Journal): number {
  return (journal.cluster.cluster2 ?? []).filter((o) => {
    const obj = JSON.parse(o) as { kind: string; type?: string; metadata: { annotations?: Record<string, string> } };
    return (
      obj.kind === 'Secret' &&
      obj.type === 'kubernetes.io/service-account-token' &&
      obj.metadata.annotations?.['kubernetes.io/service-account.name'] === 'istio-reader-service-account'
    );
  }).length;
}

// Kills the repair at point n and resumes it (crashAndResume checks the run, its journal and the clusters
// against `expected`); then drift must find nothing, and each once-only effect happened once.
async function crashRepair(db: string, n: number, expected: Journal['cluster']): Promise<'resumed'> {
  await crashAndResume(REPAIR_ARGS, db, 'repair', n, expected);
  let id = await onlyRunId(db, 'repair');
  if (!id) {
    // Killed before the run was recorded: nothing was changed, and repair again finds the same drift.
    expect((await driftOf(db)).found, `point ${n}: drift after a kill before the run`).toEqual(expect.arrayContaining(DRIFTED));
    const again = await runCli([...REPAIR_ARGS, '--db', db]);
    expect(again.code, `point ${n}: repair again: ${again.stderr}`).toBe(0);
    id = (await onlyRunId(db, 'repair')) as string;
    expect((await readJournal(db, id)).cluster, `point ${n}: simulated clusters`).toEqual(expected);
  }
  const after = await driftOf(db);
  expect(after.found, `point ${n}: drift left after the resumed repair`).toEqual([]);
  expect(after.code, `point ${n}: drift's exit code`).toBe(0);
  const journal = await readJournal(db, id);
  expect(journal.events.at(-1)?.type, `point ${n}: the run's last event`).toBe('succeeded');
  for (const act of GATED_ACTS) {
    const done = journal.commands.filter((c) => c.argv.join(' ') === act && c.exitCode === 0);
    expect(done.length, `point ${n}: "${act}" completed`).toBeLessThanOrEqual(1);
  }
  expect(readerTokens(journal), `point ${n}: reader token secrets on cluster2`).toBe(1);
  return 'resumed';
}

// The repair of the drifted mesh killed at each point `choose` picks; each point from a copy of one template.
export async function repairMatrix(dir: string, choose: Choose): Promise<Matrix & { steps: string[] }> {
  const template = join(dir, 'repair-template.db');
  await driftedTemplate(dir, template);
  expect((await driftOf(template)).found).toEqual(expect.arrayContaining(DRIFTED));
  const referenceDb = join(dir, 'repair-reference.db');
  copyDb(template, referenceDb);
  const { expected, points } = await reference(REPAIR_ARGS, referenceDb, 'repair', join(dir, 'repair-trace.txt'));
  const ran = await readJournal(referenceDb, (await onlyRunId(referenceDb, 'repair')) as string);
  const steps = [...new Set(ran.attempts.map((a) => `${a.step}@${a.cluster}`).filter((s) => /^repair-/.test(s)))].sort();
  expect(readerTokens(ran)).toBe(1);
  const chosen = choose(points);
  const tally = await tryPoints(chosen, points, async (n) => {
    const db = join(dir, `repair-crash-${n}.db`);
    copyDb(template, db);
    return crashRepair(db, n, expected);
  });
  return { points, chosen, tally, steps };
}
