// The CLI's face, part 2 of 4: what reads the journal and answers about runs and meshes (status, history,
// logs, timelines, meshes, completion). Reads only; nothing here changes a run or a cluster.
export { describeMesh } from './config/mesh-shape.js';
export { parseTimeBound } from './config/time-filters.js';
export type { HistoryQuery, RunStatusView } from './run-queries.js';
export {
  followRunCommands,
  historyActions,
  historyAttempts,
  listMeshes,
  meshDetail,
  recentRuns,
  runProgress,
  runReport,
  runStatus,
  runTimeline,
  watchRunStatus,
} from './run-queries.js';
export { maybeRunConfig, membershipConfig, runConfig } from './views/run-config.js';
export { checkRunIdFormat } from './views/run-lookup.js';
export { slotsOfRun } from './views/run-slots.js';
export { runSummary } from './views/run-summary.js';
export type { StepMark } from './views/status-view.js';
export { clusterSummaryOf, runView, slotViews } from './views/status-view.js';
export type { Timeline } from './views/timeline.js';
export { lastKnownEnd } from './views/timeline.js';

// Shell completion's answers, loaded only when a completion needs the journal or a config (start-up stays fast).
export const completionQueries = () => import('./completion-queries.js');
