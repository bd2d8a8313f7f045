// What a finished run achieved, in the words of its kind (the line a run verb ends with).
import type { RunRecord } from '../../store/contract.js';
import { kindOf } from '../kinds/registry.js';
import { membershipConfig, runConfig } from './run-config.js';

// `caveats`: how many things the run left undone on purpose (tokens kept valid), listed after this line.
export function runSummary(run: RunRecord, caveats = 0): string {
  const said = kindOf(run.kind).summary(runConfig(run), membershipConfig(run));
  return caveats > 0
    ? `${said}; but ${caveats === 1 ? 'one old token stays' : `${caveats} old tokens stay`} valid, as its secret was there before mesh-run (below)`
    : said;
}
