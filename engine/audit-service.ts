// mesh-run secrets audit: which mesh to look at (a recorded install, dry or real, or a config file's real
// clusters), then the audit itself (activities/secrets-audit.ts). Reads only; records nothing.
import { UsageError } from '../shared/errors.js';
import { auditRemoteSecrets, type SecretsAuditReport } from './activities/secrets-audit.js';
import { openStore, realTools, type StoreLocation, toolsFor } from './composition.js';
import { loadConfig } from './config/mesh-config.js';
import { applyOverrides, type ConfigOverrides } from './config/overrides.js';
import { meshInstall } from './run-queries.js';
import { membershipConfig } from './views/run-config.js';
import { checkRunIdFormat, installRunOf } from './views/run-lookup.js';

export interface AuditRequest {
  runRef?: string;
  meshRef?: string;
  configPath?: string;
  overrides?: ConfigOverrides;
  store: StoreLocation;
}

export async function auditSecrets(request: AuditRequest): Promise<SecretsAuditReport & { target: string }> {
  if ([request.runRef, request.configPath, request.meshRef].filter((v) => v !== undefined).length > 1)
    throw new UsageError('--mesh, --run and --config: give one of them');
  if (request.runRef === undefined && request.meshRef === undefined) {
    const { config } = applyOverrides(loadConfig(request.configPath), request.overrides ?? {});
    return { target: request.configPath ?? 'the default clusters', ...(await auditRemoteSecrets(config, await realTools(config))) };
  }
  if (request.runRef !== undefined) checkRunIdFormat(request.runRef);
  const store = await openStore(request.store, 'read-only');
  try {
    const ref = request.meshRef !== undefined ? await meshInstall(store.runs, request.meshRef) : (request.runRef as string);
    const run = await installRunOf(store.runs, ref);
    const config = membershipConfig(run);
    const tools = await toolsFor(run.mode, config, store, run.simWorld);
    return { target: `the ${run.mode === 'dry-run' ? 'simulated ' : ''}clusters of run ${run.id}`, ...(await auditRemoteSecrets(config, tools)) };
  } finally {
    await store.close();
  }
}
