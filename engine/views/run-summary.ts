// What a finished run achieved, in the words of its kind (the line a run verb ends with).
import type { RunRecord } from '../../store/contract.js';
import { kindOf } from '../kinds/registry.js';
import { membershipConfig, runConfig } from './run-config.js';

export function runSummary(run: RunRecord): string {
  return kindOf(run.kind).summary(runConfig(run), membershipConfig(run));
}
