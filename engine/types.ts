// The CLI's face, part 4 of 4: the types the engine's answers carry, and the few names and constants a
// renderer needs (run kinds, step ids, slot labels, the objects a plan script names). Light: loaded at start-up.
export type { Command } from '../adapters/cluster-tools.js';
export type { RunKind, StepId } from '../machines/steps.js';
export { ALL_CLUSTERS, clusterLabel, isRunKind, RUN_KINDS, slotLabel } from '../machines/steps.js';
export type { AttemptRecord, RunRecord, RunStore } from '../store/contract.js';
export { CACERTS, ISTIO_SYSTEM } from './activities/install.js';
export { OWNING_RESOURCE } from './activities/mesh-inventory.js';
export type { SecretsAuditReport } from './activities/secrets-audit.js';
export type { CaBundle } from './activities/trust/ca-files.js';
export { BUNDLE_FILES } from './activities/trust/material.js';
export { cacertsManifest } from './activities/trust/trust-activity.js';
export type { FaultTarget } from './completion-queries.js';
export type { DiscoveryFinding, DiscoveryReport } from './discover-service.js';
export type { DriftItem, DriftKind, DriftReport, UnreadCluster } from './drift-service.js';
export type { Plan, PlannedCommand } from './plan.js';
export type { RepairPlan } from './plan-repair.js';
export type { PlanChange, PlanRequest } from './plan-request.js';
export type { RepairDecision, RepairRequest } from './repair-service.js';
export type { FinishedRun, PreparedRun } from './run-service.js';
export type { ProgressEvent, ProgressListener } from './runtime/progress-events.js';
export type { CheckReport, RecoveryReport } from './store-integrity.js';
export type { PrimaryTrust, TrustAuditReport, TrustFinding } from './trust-audit-service.js';
export type { GraphNode, MachineGraph } from './views/graph-model.js';
export { allNodes } from './views/graph-model.js';
export type { MeshView } from './views/mesh-view.js';
export type { SlotFilter } from './views/run-slots.js';
export type { ClusterSummary, RunView, SlotView } from './views/status-view.js';
export type { Timeline } from './views/timeline.js';
