// resume: finishing a run that failed at its last step, against the full run.
import { join } from 'node:path';
import { prepareResume } from '../engine/run-service.js';
import { configFor, ms, out, sqlite, work } from './harness.js';
import { timedInstall } from './timed-install.js';

export async function resumeCost(): Promise<void> {
  out('section', 'resume after a failure at the last step (4 remotes)', '', '', '', '');
  const path = configFor(4);
  const full = await timedInstall(path, join(work, 'full.db'));
  const db = join(work, 'resume.db');
  const failed = await timedInstall(path, db, { injections: ['attach-remote@remote4'] });
  if (failed.outcome.status !== 'failed') throw new Error('the failing run did not fail');
  const started = performance.now();
  const prepared = await prepareResume({ id: failed.runId, store: sqlite(db), force: false, simulation: {} });
  const { outcome } = await prepared.begin();
  const elapsed = performance.now() - started;
  await prepared.close();
  if (outcome.status !== 'succeeded') throw new Error('resume did not succeed');
  out('full run', ms(full.elapsed), 'resume to finish', ms(elapsed), 'ratio', `${((elapsed / full.elapsed) * 100).toFixed(1)} %`);
}
