// What happened to a run (events: who started, resumed, ended it; what a step reported) and what it saw
// before it changed anything (observations, which uninstall restores).
import { crashPoint } from '../crash-points.js';
import { type ObservationRow, toEvent, toObservation } from '../rows.js';
import type { RunContext, RunOps } from './context.js';

type Ops = RunOps<'addEvent' | 'listEvents' | 'recordObservations' | 'listObservations'>;

export function eventOps(c: RunContext): Ops {
  const { db, q } = c;
  return {
    addEvent(runId, fence, type, actor, at, detail, where) {
      const insert = () => q.insertEvent.run(runId, at, type, actor.user, actor.host, actor.pid, detail ?? null, where?.step ?? null, where?.cluster ?? null);
      if (fence === null) insert();
      else c.underLease(runId, fence, insert);
      crashPoint('journal-write');
    },
    listEvents(runId) {
      return q.listEvents.all(runId).map(toEvent);
    },
    recordObservations(runId, fence, observations) {
      if (observations.length === 0) return;
      c.underLease(runId, fence, () => {
        for (const o of observations)
          q.insertObservation.run(o.runId, o.cluster, o.subject, o.present ? 1 : 0, o.owner, o.detail ? JSON.stringify(o.detail) : null, o.at);
      });
      crashPoint('journal-write');
    },
    listObservations(runIds) {
      if (runIds.length === 0) return [];
      const sql = `SELECT run_id, cluster, subject, present, owner, detail, at FROM observations WHERE run_id IN (${runIds.map(() => '?').join(', ')}) ORDER BY at, id`;
      return (db.prepare(sql).all(...runIds) as ObservationRow[]).map(toObservation);
    },
  };
}
