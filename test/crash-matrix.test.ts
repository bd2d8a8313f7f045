// Crash-anywhere, a representative handful: an install is killed with SIGKILL at its first point (before the
// run row), the first of each kind of point, a mid-step journal write, a mid-run after-command and its last
// point; every other run kind at a mid-run journal write and after-command. Each is resumed and must end where
// an uninterrupted run ends, with a complete journal and no finished step run twice. Every point of every
// kind: test/deep/crash-matrix.deep.test.ts (npm run test:deep).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/cli.js';
import {
  AFTER_INSTALL,
  ARGS,
  afterInstallTemplate,
  copyDb,
  crashAndResume,
  midRun,
  reference,
  representative,
  tryPoints,
  UPGRADE_ARGS,
  UPGRADE_CONFIG,
  upgradeTemplate,
} from './support/crash-resume.js';
import { copyExamples } from './support/examples.js';
import { freshSchema, havePostgres, postgresUrl } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe.concurrent('crash at representative points, resume', () => {
  it('an install killed at each kind of point resumes to the uninterrupted end state', async () => {
    const { expected, points } = await reference(ARGS, join(tmp.dir, 'reference.db'), 'install', join(tmp.dir, 'trace.txt'));
    expect(points.length).toBeGreaterThan(50);
    for (const kind of ['journal-write', 'in-transaction', 'before-command', 'after-command']) expect(points).toContain(kind);
    const chosen = representative(points);
    expect(chosen.length).toBeGreaterThanOrEqual(6);
    const tally = await tryPoints(chosen, points, (n) => crashAndResume(ARGS, join(tmp.dir, `crash-${n}.db`), 'install', n, expected));
    expect(tally.failures).toEqual([]);
    expect(tally.resumed).toBe(chosen.length);
  }, 180_000);

  it.each(Object.keys(AFTER_INSTALL))(
    '%s killed at each kind of point resumes to the uninterrupted end state',
    async (kind) => {
      const plan = AFTER_INSTALL[kind] as (typeof AFTER_INSTALL)[string];
      const template = join(tmp.dir, `${kind}-template.db`);
      const args = await afterInstallTemplate(kind, template);
      const referenceDb = join(tmp.dir, `${kind}-reference.db`);
      copyDb(template, referenceDb);
      const { expected, points } = await reference(args, referenceDb, kind, join(tmp.dir, `${kind}-trace.txt`));
      if (plan.clusters) expect(Object.keys(expected).sort()).toEqual(plan.clusters);
      expect(points.length).toBeGreaterThan(20);
      const chosen = midRun(points);
      const tally = await tryPoints(chosen, points, async (n) => {
        const db = join(tmp.dir, `${kind}-crash-${n}.db`);
        copyDb(template, db);
        return crashAndResume(args, db, kind, n, expected);
      });
      expect(tally.failures).toEqual([]);
      expect(tally.resumed).toBe(chosen.length);
    },
    180_000,
  );

  // Five children commit in whatever order the event loop turns; mid-run points exist in every run.
  it('a mixed-fleet install killed at each kind of point resumes to the uninterrupted end state', async () => {
    const dir = join(tmp.dir, 'fleet');
    copyExamples(dir);
    const args = [...ARGS, '-c', join(dir, 'mixed-fleet.yaml')];
    const { expected, points } = await reference(args, join(tmp.dir, 'fleet-reference.db'), 'install', join(tmp.dir, 'fleet-trace.txt'));
    expect(Object.keys(expected).sort()).toEqual(['east-1', 'east-2', 'east-3', 'west-1', 'west-2']);
    const chosen = midRun(points);
    const tally = await tryPoints(chosen, points, (n) => crashAndResume(args, join(tmp.dir, `fleet-crash-${n}.db`), 'install', n, expected, true));
    expect(tally.failures).toEqual([]);
    expect(tally.resumed + tally.missed).toBe(chosen.length);
    expect(tally.missed).toBe(0);
  }, 180_000);

  it('an upgrade killed at each kind of point resumes to the uninterrupted end state', async () => {
    const config = join(tmp.dir, 'upgrade.yaml');
    writeFileSync(config, UPGRADE_CONFIG);
    const template = join(tmp.dir, 'upgrade-template.db');
    await upgradeTemplate(config, template);
    const referenceDb = join(tmp.dir, 'upgrade-reference.db');
    copyDb(template, referenceDb);
    const { expected, points } = await reference(UPGRADE_ARGS, referenceDb, 'upgrade', join(tmp.dir, 'upgrade-trace.txt'));
    expect(points.length).toBeGreaterThan(50);
    const chosen = midRun(points);
    const tally = await tryPoints(chosen, points, async (n) => {
      const db = join(tmp.dir, `upgrade-crash-${n}.db`);
      copyDb(template, db);
      return crashAndResume(UPGRADE_ARGS, db, 'upgrade', n, expected);
    });
    expect(tally.failures).toEqual([]);
    expect(tally.resumed).toBe(chosen.length);
  }, 180_000);

  it.skipIf(!havePostgres())(
    'an install with a PostgreSQL store killed at each kind of point resumes to the uninterrupted end state',
    async () => {
      const { expected, points } = await reference(ARGS, postgresUrl(freshSchema('crashref')) as string, 'install', join(tmp.dir, 'pg-trace.txt'));
      expect(points.length).toBeGreaterThan(50);
      const chosen = midRun(points);
      const tally = await tryPoints(chosen, points, (n) => crashAndResume(ARGS, postgresUrl(freshSchema(`crash${n}`)) as string, 'install', n, expected, true));
      expect(tally.failures).toEqual([]);
      expect(tally.resumed + tally.missed).toBe(chosen.length);
      expect(tally.missed).toBe(0);
    },
    180_000,
  );
});
