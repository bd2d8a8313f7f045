// Every step's wait budget comes from the step table: the newer wait steps show a deadline too.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../engine/config/mesh-config.js';
import { waitBudget } from '../engine/runtime/wait-budget.js';
import { STEP_IDS, STEP_WAITS } from '../machines/steps.js';

describe('wait budgets', () => {
  const config = {
    ...parseConfigText('{}', {}),
    upgrade: { from: 'a', to: 'b', waveSize: 5, gateTimeoutMs: 123_000, keepOld: false, skipProxyGate: false },
  };
  it('gives the rotation and upgrade gates their deadline', () => {
    expect(waitBudget('await-synced', config)).toBe(config.verify.timeoutMs);
    expect(waitBudget('await-wave', config)).toBe(123_000);
    expect(waitBudget('await-revision-synced', config)).toBe(123_000);
    expect(waitBudget('await-gateway-address', config)).toBe(config.timeouts.gatewayAddressMs);
    expect(waitBudget('uninstall-primary', config)).toBe(config.timeouts.commandMs);
    expect(waitBudget('install-primary', config)).toBeUndefined();
  });
  it('names a budget for every step id, and every await- step waits on one', () => {
    expect(Object.keys(STEP_WAITS).sort()).toEqual([...new Set(STEP_IDS)].sort());
    for (const step of STEP_IDS.filter((s) => s.startsWith('await-'))) expect(STEP_WAITS[step], step).not.toBe('none');
  });
});
