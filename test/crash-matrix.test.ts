// Crash-anywhere, a representative handful: an install is killed with SIGKILL at its first point (before the
// run row), the first of each kind of point, a mid-step journal write, a mid-run after-command and its last
// point; every other run kind at a mid-run journal write and after-command. Each is resumed and must end where
// an uninterrupted run ends, with a complete journal and no finished step run twice. Every point of every
// kind: test/deep/crash-matrix.deep.test.ts (npm run test:deep).

import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/cli.js';
import {
  AFTER_INSTALL,
  afterInstallMatrix,
  fleetMatrix,
  installMatrix,
  type Matrix,
  midRun,
  postgresMatrix,
  representative,
  upgradeMatrix,
} from './support/crash-resume.js';
import { havePostgres } from './support/stores.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// Every chosen point resumed (`missed`: points a run may not reach, none allowed here).
function expectAllResumed({ chosen, tally }: Matrix): void {
  expect(tally.failures).toEqual([]);
  expect(tally.resumed + tally.missed).toBe(chosen.length);
  expect(tally.missed).toBe(0);
}

describe.concurrent('crash at representative points, resume', () => {
  it('an install killed at each kind of point resumes to the uninterrupted end state', async () => {
    const matrix = await installMatrix(tmp.dir, representative);
    expect(matrix.chosen.length).toBeGreaterThanOrEqual(6);
    expectAllResumed(matrix);
  }, 180_000);

  it.each(Object.keys(AFTER_INSTALL))(
    '%s killed at each kind of point resumes to the uninterrupted end state',
    async (kind) => expectAllResumed(await afterInstallMatrix(tmp.dir, kind, midRun)),
    180_000,
  );

  // Five children commit in whatever order the event loop turns; mid-run points exist in every run.
  it('a mixed-fleet install killed at each kind of point resumes to the uninterrupted end state', async () => {
    expectAllResumed(await fleetMatrix(tmp.dir, midRun));
  }, 180_000);

  it('an upgrade killed at each kind of point resumes to the uninterrupted end state', async () => {
    expectAllResumed(await upgradeMatrix(tmp.dir, midRun));
  }, 180_000);

  it.skipIf(!havePostgres())(
    'an install with a PostgreSQL store killed at each kind of point resumes to the uninterrupted end state',
    async () => expectAllResumed(await postgresMatrix(tmp.dir, midRun)),
    180_000,
  );
});
