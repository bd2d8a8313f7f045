// A repair killed at every crash point converges (issue 30), exhaustively (npm run test:deep): the drifted mesh
// of test/support/repair-crash.ts (a remote secret deleted, a network label removed, a control-plane annotation
// changed, the cross-network Gateway deleted), its repair SIGKILLed at each journal write in turn (the other
// named points, inside transactions and between a command and its record, are the install matrix's), resumed (or, killed before its run was recorded, repaired again), must end as an uninterrupted repair
// ends, with drift finding nothing. test/repair-crash.test.ts tries a representative handful of the same points.
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';
import { REPAIR_STEPS, repairMatrix } from '../support/repair-crash.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const writes = (points: readonly string[]) => points.flatMap((p, i) => (p === 'journal-write' ? [i + 1] : []));

describe('a repair killed anywhere, resumed', () => {
  it('every journal write ends with drift clean, the journal complete and the clusters as an uninterrupted repair leaves them', async () => {
    const matrix = await repairMatrix(tmp.dir, writes);
    const journalWrites = matrix.points.filter((p) => p === 'journal-write').length;
    console.log(
      `repair crash points: ${matrix.chosen.length} of ${matrix.points.length} tried (${journalWrites} journal writes), ${matrix.tally.resumed} resumed`,
    );
    expect(matrix.chosen.length).toBe(journalWrites);
    expect(matrix.steps).toEqual(REPAIR_STEPS);
    expect(matrix.tally.failures).toEqual([]);
    expect(matrix.tally.resumed).toBe(matrix.chosen.length);
  });
});
