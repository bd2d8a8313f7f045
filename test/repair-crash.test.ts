// A repair killed anywhere converges (issue 30): the drifted mesh of test/support/repair-crash.ts, its repair
// SIGKILLed at a representative handful of crash points (the first, before the run row; the first of each
// kind; a mid-run journal write and after-command; the last), each resumed, must end as an uninterrupted repair
// ends: the run succeeded with a complete journal, no finished step run twice, the simulated clusters the same,
// drift finding nothing, and once-only effects once. The second template (test/support/repair-crash-trust.ts:
// the primary's east-west gateway gone, its address taken, and cacerts deleted, on a mesh with a kept CA) is
// killed at the same handful and at every 8th journal write, and must also keep the mesh's one root. Every
// journal write of both: test/deep/repair-crash.deep.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/cli.js';
import { type Choose, representative } from './support/crash-resume.js';
import { REPAIR_STEPS, repairMatrix } from './support/repair-crash.js';
import { TRUST_DRIFTED, TRUST_REPAIR_STEPS, trustRepairMatrix } from './support/repair-crash-trust.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('a repair killed at representative points, resumed', () => {
  it('ends with drift clean, the journal complete and the clusters as an uninterrupted repair leaves them', async () => {
    const matrix = await repairMatrix(tmp.dir, representative);
    // The reference repair ran every repair step the four drifts ask for, and only those.
    expect(matrix.steps).toEqual(REPAIR_STEPS);
    for (const kind of ['journal-write', 'in-transaction', 'before-command', 'after-command']) expect(matrix.points).toContain(kind);
    expect(matrix.chosen.length).toBeGreaterThanOrEqual(6);
    expect(matrix.tally.failures).toEqual([]);
    expect(matrix.tally.resumed).toBe(matrix.chosen.length);
  }, 300_000);

  it("a second template (gateway gone and its address taken, cacerts deleted) converges the same, on the mesh's one root", async () => {
    // Every 8th journal write (about six, spread over the three steps) besides the representative handful.
    const points: Choose = (ps) =>
      [...new Set([...representative(ps), ...ps.flatMap((p, i) => (p === 'journal-write' ? [i + 1] : [])).filter((_, k) => k % 8 === 4)])].sort(
        (a, b) => a - b,
      );
    const matrix = await trustRepairMatrix(tmp.dir, points);
    expect([...matrix.drifted].sort()).toEqual([...TRUST_DRIFTED].sort());
    expect(matrix.steps).toEqual(TRUST_REPAIR_STEPS);
    expect(matrix.chosen.length).toBeGreaterThanOrEqual(10);
    expect(matrix.tally.failures).toEqual([]);
    expect(matrix.tally.resumed).toBe(matrix.chosen.length);
  }, 300_000);
});
