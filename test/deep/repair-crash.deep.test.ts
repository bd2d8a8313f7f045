// A repair killed at every crash point converges (issue 30), exhaustively (npm run test:deep): the drifted mesh
// of test/support/repair-crash.ts (a remote secret deleted, a network label removed, a control-plane annotation
// changed, the cross-network Gateway deleted), its repair SIGKILLed at each journal write in turn (the other
// named points, inside transactions and between a command and its record, are the install matrix's), resumed (or, killed before its run was recorded, repaired again), must end as an uninterrupted repair
// ends, with drift finding nothing. The second template (test/support/repair-crash-trust.ts: a kept CA's mesh,
// its east-west gateway gone and its address taken, cacerts deleted on the primary: repair-trust, repair-gateway,
// repair-remote) is killed at each of its journal writes too, and must keep the mesh's one root; it prints how
// many points and how long (45 points in 168 s on a shared 2-core machine, inside CI's ~4 min budget, so every
// write, not every second). test/repair-crash.test.ts tries a representative handful of the same points.
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/cli.js';
import { REPAIR_STEPS, repairMatrix } from '../support/repair-crash.js';
import { TRUST_DRIFTED, TRUST_REPAIR_STEPS, trustRepairMatrix } from '../support/repair-crash-trust.js';

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

  it("the second template: every journal write ends with drift clean, the journal complete and cacerts on the mesh's one root", async () => {
    const started = Date.now();
    const matrix = await trustRepairMatrix(tmp.dir, writes);
    const journalWrites = matrix.points.filter((p) => p === 'journal-write').length;
    console.log(
      `repair crash points (gateway and cacerts): ${matrix.chosen.length} of ${matrix.points.length} tried (${journalWrites} journal writes), ${matrix.tally.resumed} resumed, in ${Math.round((Date.now() - started) / 1000)} s`,
    );
    expect([...matrix.drifted].sort()).toEqual([...TRUST_DRIFTED].sort());
    expect(matrix.chosen.length).toBe(journalWrites);
    expect(matrix.steps).toEqual(TRUST_REPAIR_STEPS);
    expect(matrix.tally.failures).toEqual([]);
    expect(matrix.tally.resumed).toBe(matrix.chosen.length);
  });
});
