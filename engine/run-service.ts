// The operations behind the run verbs: prepare a new install, a verify or uninstall, or a resume. Every
// input is validated before anything is written to a store or a cluster; the store backend and the tools
// come from the composition root. Each verb has its module; this one is the face the others import.

export type { SimulationOptions } from './composition.js';
export { FORCED_UNINSTALL } from './follow-up-deps.js';
export { type FollowUpRequest, prepareFollowUp } from './follow-up-service.js';
export { type InstallRequest, prepareInstall } from './install-service.js';
export { type ClaimedRun, claimNewRun, preparedNewRun } from './new-run.js';
export type { FinishedRun, PreparedRun } from './prepared-run.js';
export { prepareResume, type ResumeRequest } from './resume-service.js';
