// Crash-anywhere, exhaustively (npm run test:deep): kill a dry run with SIGKILL at every journal write and
// named point, resume, and check that it ends where an uninterrupted run ends, with a complete journal and no
// finished step run twice. test/crash-matrix.test.ts tries a representative handful of the same points.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';
import {
  AFTER_INSTALL,
  ARGS,
  afterInstallTemplate,
  copyDb,
  crashAndResume,
  reference,
  sample,
  tryPoints,
  UPGRADE_ARGS,
  UPGRADE_CONFIG,
  upgradeTemplate,
} from '../support/crash-resume.js';
import { copyExamples } from '../support/examples.js';
import { freshSchema, havePostgres, postgresUrl } from '../support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe.concurrent('crash anywhere, resume', () => {
  it('every crash point resumes to the uninterrupted end state', async () => {
    const { expected, points } = await reference(ARGS, join(tmp.dir, 'reference.db'), 'install', join(tmp.dir, 'trace.txt'));
    expect(points.length).toBeGreaterThan(50);
    for (const kind of ['journal-write', 'in-transaction', 'before-command', 'after-command']) expect(points).toContain(kind);

    const tally = await tryPoints(
      points.map((_, i) => i + 1),
      points,
      (n) => crashAndResume(ARGS, join(tmp.dir, `crash-${n}.db`), 'install', n, expected),
    );
    console.log(`crash points: ${points.length} tried, ${tally.resumed} passed`);
    expect(tally.failures).toEqual([]);
    expect(tally.resumed).toBe(points.length);
  }, 600_000);

  // Each point starts from a copy of one prepared database. They share the driver the install matrix covers
  // point by point, so by default every third point is tried (each step still dies in several phases);
  // MESH_RUN_CRASH_ALL=1 tries them all.
  it.each(Object.keys(AFTER_INSTALL))(
    'every crash point of %s resumes to the uninterrupted end state',
    async (kind) => {
      const plan = AFTER_INSTALL[kind] as (typeof AFTER_INSTALL)[string];
      const template = join(tmp.dir, `${kind}-template.db`);
      const args = await afterInstallTemplate(kind, template);
      const referenceDb = join(tmp.dir, `${kind}-reference.db`);
      copyDb(template, referenceDb);
      const { expected, points } = await reference(args, referenceDb, kind, join(tmp.dir, `${kind}-trace.txt`));
      if (plan.clusters) expect(Object.keys(expected).sort()).toEqual(plan.clusters);
      expect(points.length).toBeGreaterThan(20);
      const chosen = sample(points, 3);
      const tally = await tryPoints(chosen, points, async (n) => {
        const db = join(tmp.dir, `${kind}-crash-${n}.db`);
        copyDb(template, db);
        return crashAndResume(args, db, kind, n, expected);
      });
      console.log(
        `${kind} crash points: ${chosen.length} of ${points.length} tried${chosen.length < points.length ? ' (every third; MESH_RUN_CRASH_ALL=1 tries all)' : ''}, ${tally.resumed} passed`,
      );
      expect(tally.failures).toEqual([]);
      expect(tally.resumed).toBe(chosen.length);
    },
    600_000,
  );

  // The other topologies run the same driver with more children and more steps: the mixed fleet (two
  // primaries on two networks, three remotes, a generated root kept on disk) covers every step kind. Every
  // fifth point by default (MESH_RUN_CRASH_ALL=1 tries all).
  it('every crash point of a mixed-fleet install resumes to the uninterrupted end state', async () => {
    const dir = join(tmp.dir, 'fleet');
    copyExamples(dir);
    const args = [...ARGS, '-c', join(dir, 'mixed-fleet.yaml')];
    const { expected, points } = await reference(args, join(tmp.dir, 'fleet-reference.db'), 'install', join(tmp.dir, 'fleet-trace.txt'));
    expect(Object.keys(expected).sort()).toEqual(['east-1', 'east-2', 'east-3', 'west-1', 'west-2']);
    const chosen = sample(points, 5);
    // Five children commit in whatever order the event loop turns: a run may make a few journal writes
    // fewer than the reference, so its last points may not exist (reported, not failed).
    const tally = await tryPoints(chosen, points, (n) => crashAndResume(args, join(tmp.dir, `fleet-crash-${n}.db`), 'install', n, expected, true));
    console.log(
      `mixed-fleet crash points: ${chosen.length} of ${points.length} tried${chosen.length < points.length ? ' (every fifth)' : ''}, ${tally.resumed} resumed, ${tally.missed} not reached (the run finished first)`,
    );
    expect(tally.failures).toEqual([]);
    expect(tally.resumed + tally.missed).toBe(chosen.length);
    expect(tally.missed).toBeLessThan(chosen.length / 5);
  }, 600_000);

  // A canary upgrade walks phases, clusters and waves with a cursor in its context: killed anywhere, it resumes
  // to the same end state (the old revision gone, every proxy moved) without running a finished turn again.
  // Every fourth point by default (MESH_RUN_CRASH_ALL=1 tries all).
  it('every crash point of an upgrade resumes to the uninterrupted end state', async () => {
    const config = join(tmp.dir, 'upgrade.yaml');
    writeFileSync(config, UPGRADE_CONFIG);
    const template = join(tmp.dir, 'upgrade-template.db');
    await upgradeTemplate(config, template);
    const referenceDb = join(tmp.dir, 'upgrade-reference.db');
    copyDb(template, referenceDb);
    const { expected, points } = await reference(UPGRADE_ARGS, referenceDb, 'upgrade', join(tmp.dir, 'upgrade-trace.txt'));
    expect(points.length).toBeGreaterThan(50);
    const chosen = sample(points, 4);
    const tally = await tryPoints(chosen, points, async (n) => {
      const db = join(tmp.dir, `upgrade-crash-${n}.db`);
      copyDb(template, db);
      return crashAndResume(UPGRADE_ARGS, db, 'upgrade', n, expected);
    });
    console.log(
      `upgrade crash points: ${chosen.length} of ${points.length} tried${chosen.length < points.length ? ' (every fourth)' : ''}, ${tally.resumed} passed`,
    );
    expect(tally.failures).toEqual([]);
    expect(tally.resumed).toBe(chosen.length);
  }, 600_000);

  // The same kill-anywhere promise with the journal in PostgreSQL (each point in a schema of its own):
  // every third point, as for verify and uninstall (MESH_RUN_CRASH_ALL=1 tries all).
  it.skipIf(!havePostgres())(
    'every crash point of an install with a PostgreSQL store resumes to the uninterrupted end state',
    async () => {
      const { expected, points } = await reference(ARGS, postgresUrl(freshSchema('crashref')) as string, 'install', join(tmp.dir, 'pg-trace.txt'));
      expect(points.length).toBeGreaterThan(50);
      const chosen = sample(points, 3);
      // Transitions coalesce per turn of the event loop, and network round trips move those turns: a run
      // may commit a few transitions fewer than the reference, so its last points may not exist.
      const tally = await tryPoints(chosen, points, (n) => crashAndResume(ARGS, postgresUrl(freshSchema(`crash${n}`)) as string, 'install', n, expected, true));
      console.log(
        `PostgreSQL crash points: ${chosen.length} of ${points.length} tried${chosen.length < points.length ? ' (every third)' : ''}, ${tally.resumed} resumed, ${tally.missed} not reached (the run finished first)`,
      );
      expect(tally.failures).toEqual([]);
      expect(tally.resumed + tally.missed).toBe(chosen.length);
      expect(tally.missed).toBeLessThan(chosen.length / 10);
    },
    600_000,
  );
});
