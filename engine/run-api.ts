// The CLI's face, part 1 of 4: what starts, resumes, plans or changes runs, meshes and stores, and loads and
// checks configs. The CLI loads it when a verb acts (start-up stays fast for the others).
export { precheck } from './activities/precheck.js';
export { clusterVersions, toolVersions } from './activities/tool-versions.js';
export { prepareAdopt } from './adopt-service.js';
export { auditSecrets } from './audit-service.js';
export { loadConfig } from './config/mesh-config.js';
export { applyOverrides, hasOverrides, parseContextFlags } from './config/overrides.js';
export { configJsonSchema } from './config/schema.js';
export { STARTER_TOPOLOGIES, starterClusters, starterConfig } from './config/starter.js';
export { prepareClusterAdd, prepareClusterRemove, prepareSecretsRotate } from './day2-service.js';
export { discoverMesh } from './discover-service.js';
export { checkDrift, recordDriftCheck } from './drift-service.js';
export { watchDrift } from './drift-watch.js';
export { watchRepairer } from './drift-watch-repair.js';
export { planRun } from './plan.js';
export { planRepair } from './plan-repair.js';
export { plannedConfig } from './plan-request.js';
export { checkRepair, describeRepair, prepareRepair, REPAIRED_KINDS, recheckRepair } from './repair-service.js';
export { prepareFollowUp, prepareInstall, prepareResume } from './run-service.js';
export { simCommand } from './sim-service.js';
export { checkStore, recoverStore } from './store-integrity.js';
export { cancelRun, copyStore, sameStore, unlockRun } from './store-service.js';
export { auditMeshTrust } from './trust-audit-service.js';
export { prepareTrustRotate } from './trust-rotate-service.js';
export { prepareRollback, prepareUpgrade } from './upgrade-service.js';
export { machineGraph } from './views/machine-graph.js';
export { meshView } from './views/mesh-view.js';
