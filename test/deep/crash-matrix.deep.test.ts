// Crash-anywhere, exhaustively (npm run test:deep): kill a dry run with SIGKILL at every journal write and
// named point, resume, and check that it ends where an uninterrupted run ends, with a complete journal and no
// finished step run twice. test/crash-matrix.test.ts tries a representative handful of the same points.

import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';
import { AFTER_INSTALL, afterInstallMatrix, fleetMatrix, installMatrix, type Matrix, postgresMatrix, sample, upgradeMatrix } from '../support/crash-resume.js';
import { havePostgres } from '../support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const all = (points: readonly string[]) => points.map((_, i) => i + 1);

// How many points were tried, of how many, and (where a run may finish before a late point) how many it missed.
function report(label: string, { points, chosen, tally }: Matrix, sampled: string): void {
  const of = chosen.length < points.length ? ` of ${points.length} tried (${sampled})` : ` of ${points.length} tried`;
  console.log(`${label} crash points: ${chosen.length}${of}, ${tally.resumed} resumed, ${tally.missed} not reached (the run finished first)`);
}

describe.concurrent('crash anywhere, resume', () => {
  it('every crash point resumes to the uninterrupted end state', async () => {
    const matrix = await installMatrix(tmp.dir, all);
    report('install', matrix, 'all');
    expect(matrix.tally.failures).toEqual([]);
    expect(matrix.tally.resumed).toBe(matrix.points.length);
  });

  // Each point starts from a copy of one prepared database. They share the driver the install matrix covers
  // point by point, so by default every third point is tried (each step still dies in several phases);
  // MESH_RUN_CRASH_ALL=1 tries them all.
  it.each(Object.keys(AFTER_INSTALL))('every crash point of %s resumes to the uninterrupted end state', async (kind) => {
    const matrix = await afterInstallMatrix(tmp.dir, kind, (points) => sample(points, 3));
    report(kind, matrix, 'every third; MESH_RUN_CRASH_ALL=1 tries all');
    expect(matrix.tally.failures).toEqual([]);
    expect(matrix.tally.resumed).toBe(matrix.chosen.length);
  });

  // The other topologies run the same driver with more children and more steps: the mixed fleet (two
  // primaries on two networks, three remotes, a generated root kept on disk) covers every step kind. Every
  // fifth point by default (MESH_RUN_CRASH_ALL=1 tries all); its last points may not exist (reported, not failed).
  it('every crash point of a mixed-fleet install resumes to the uninterrupted end state', async () => {
    const matrix = await fleetMatrix(tmp.dir, (points) => sample(points, 5));
    report('mixed-fleet', matrix, 'every fifth');
    expect(matrix.tally.failures).toEqual([]);
    expect(matrix.tally.resumed + matrix.tally.missed).toBe(matrix.chosen.length);
    expect(matrix.tally.missed).toBeLessThan(matrix.chosen.length / 5);
  });

  // A canary upgrade walks phases, clusters and waves with a cursor in its context: killed anywhere, it resumes
  // to the same end state (the old revision gone, every proxy moved) without running a finished turn again.
  // Every fourth point by default (MESH_RUN_CRASH_ALL=1 tries all).
  it('every crash point of an upgrade resumes to the uninterrupted end state', async () => {
    const matrix = await upgradeMatrix(tmp.dir, (points) => sample(points, 4));
    report('upgrade', matrix, 'every fourth');
    expect(matrix.tally.failures).toEqual([]);
    expect(matrix.tally.resumed).toBe(matrix.chosen.length);
  });

  // The same kill-anywhere promise with the journal in PostgreSQL (each point in a schema of its own):
  // every third point, as for verify and uninstall (MESH_RUN_CRASH_ALL=1 tries all).
  it.skipIf(!havePostgres())('every crash point of an install with a PostgreSQL store resumes to the uninterrupted end state', async () => {
    const matrix = await postgresMatrix(tmp.dir, (points) => sample(points, 3));
    report('PostgreSQL', matrix, 'every third');
    expect(matrix.tally.failures).toEqual([]);
    expect(matrix.tally.resumed + matrix.tally.missed).toBe(matrix.chosen.length);
    expect(matrix.tally.missed).toBeLessThan(matrix.chosen.length / 10);
  });
});
