// One self-contained HTML page for a run: summary, the state diagram with progress marked, a Gantt timeline
// of attempts per cluster, and the commands. Inline CSS and SVG only: it opens with no network at all.

import { clusterSummaryOf, lastKnownEnd, maybeRunConfig, type StepMark, type Timeline } from '../../engine/query-api.js';
import { ALL_CLUSTERS, allNodes, type GraphNode, type MachineGraph, type StepId, slotLabel } from '../../engine/types.js';
import { formatDuration } from '../../shared/durations.js';
import { displayArgv } from './argv.js';
import { clusterSummary } from './status.js';

const esc = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);

const OUTCOME_COLOR: Record<string, string> = { succeeded: '#37b24d', failed: '#e03131', interrupted: '#f08c00', running: '#1c7ed6' };
const MARK_FILL: Record<StepMark, string> = { done: '#d3f9d8', failed: '#ffe3e3', current: '#d0ebff' };
const MARK_STROKE: Record<StepMark, string> = { done: '#2b8a3e', failed: '#c92a2a', current: '#1864ab' };

interface Box {
  width: number;
  height: number;
  draw(x: number, y: number): string;
}

// Lays the machine out as nested boxes: sequences stack, parallel regions sit side by side.
function diagram(graph: MachineGraph, marks: ReadonlyMap<StepId, StepMark>, retried: ReadonlySet<string>): string {
  const leafW = 240;
  const leafH = 30;
  const gap = 26;
  const pad = 10;
  const head = 20;
  const contains = (node: GraphNode, id: string) => allNodes(node).some((n) => n.id === id);
  const edgeLabel = (a: GraphNode, b: GraphNode) => graph.edges.find((e) => contains(a, e.from) && contains(b, e.to) && !contains(a, e.to))?.label ?? '';
  // ↻ on the steps this run actually tried more than once, not on every step that could be retried.
  const retries = new Set(
    allNodes(graph.root)
      .filter((n) => n.step !== undefined && retried.has(n.step))
      .map((n) => n.id),
  );
  const layout = (node: GraphNode): Box => {
    const mark = node.step ? marks.get(node.step) : undefined;
    const fill = mark ? MARK_FILL[mark] : '#fff';
    const stroke = mark ? MARK_STROKE[mark] : '#868e96';
    if (node.children.length === 0) {
      return {
        width: leafW,
        height: leafH,
        draw: (x, y) =>
          `<g class="state" data-step="${esc(node.step ?? '')}"><rect x="${x}" y="${y}" width="${leafW}" height="${leafH}" rx="8" fill="${fill}" stroke="${stroke}" stroke-width="${mark ? 2 : 1}"${node.final ? ' stroke-dasharray="4 2"' : ''}/>` +
          `<text x="${x + leafW / 2}" y="${y + 19}" text-anchor="middle">${esc(node.label)}${retries.has(node.id) ? ' ↻' : ''}</text>` +
          `<title>${esc(node.label)}${mark ? `: ${mark}` : ''}${retries.has(node.id) ? ' (tried more than once in this run)' : ''}</title></g>`,
      };
    }
    const kids = node.children.map(layout);
    // Wide enough for its own title (about 7 px a character at 12 px).
    const titleWidth = (node.label.length + (node.parallel ? 11 : 0)) * 7 + pad * 2;
    if (node.parallel) {
      const width = Math.max(titleWidth, kids.reduce((w, k) => w + k.width, 0) + gap * (kids.length - 1) + pad * 2);
      const height = Math.max(...kids.map((k) => k.height)) + pad * 2 + head;
      return {
        width,
        height,
        draw: (x, y) => {
          let out = `<rect x="${x}" y="${y}" width="${width}" height="${height}" rx="10" fill="none" stroke="${stroke}" stroke-dasharray="6 3"/><text class="region" x="${x + pad}" y="${y + 15}">${esc(node.label)} (parallel)</text>`;
          let cx = x + pad;
          for (const k of kids) {
            out += k.draw(cx, y + head + pad);
            cx += k.width + gap;
          }
          return out;
        },
      };
    }
    const width = Math.max(titleWidth, Math.max(...kids.map((k) => k.width)) + pad * 2);
    const height = kids.reduce((h, k) => h + k.height, 0) + gap * (kids.length - 1) + pad * 2 + head;
    return {
      width,
      height,
      draw: (x, y) => {
        let out = `<rect x="${x}" y="${y}" width="${width}" height="${height}" rx="10" fill="${mark ? fill : 'none'}" fill-opacity="0.35" stroke="${stroke}"/><text class="region" x="${x + pad}" y="${y + 15}">${esc(node.label)}</text>`;
        let cy = y + head + pad;
        kids.forEach((k, i) => {
          const kx = x + (width - k.width) / 2;
          out += k.draw(kx, cy);
          const next = node.children[i + 1];
          if (next) {
            const ax = x + width / 2;
            const label = edgeLabel(node.children[i] as GraphNode, next);
            out += `<line x1="${ax}" y1="${cy + k.height}" x2="${ax}" y2="${cy + k.height + gap - 2}" stroke="#495057" marker-end="url(#arrow)"/>`;
            if (label) out += `<text class="edge" x="${ax + 6}" y="${cy + k.height + gap / 2 + 4}">${esc(label)}</text>`;
          }
          cy += k.height + gap;
        });
        return out;
      },
    };
  };
  const box = layout(graph.root);
  // Room on the right for the guard labels of the outermost arrows.
  const width = box.width + 220;
  return `<svg class="diagram" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${box.height + 20}" viewBox="0 0 ${width} ${box.height + 20}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#495057"/></marker></defs>
${box.draw(10, 10)}</svg>`;
}

// A Gantt chart of step attempts per (step, cluster); retries are separate bars, failures red.
function gantt(t: Timeline): string {
  const rows = t.slots;
  const starts = rows.flatMap((s) => s.attempts.map((a) => a.startedAt));
  const ends = rows.flatMap((s) => s.attempts.map((a) => lastKnownEnd(a, t.events) ?? a.startedAt));
  const t0 = Math.min(t.run.createdAt, ...starts);
  const t1 = Math.max(t.run.finishedAt ?? t.run.updatedAt, ...ends, t0 + 1);
  const labelW = 250;
  const chartW = 720;
  const rowH = 24;
  const top = 28;
  const height = top + rows.length * rowH + 10;
  const x = (ms: number) => labelW + ((ms - t0) / (t1 - t0)) * chartW;
  let svg = `<svg class="gantt" xmlns="http://www.w3.org/2000/svg" width="${labelW + chartW + 20}" height="${height}" viewBox="0 0 ${labelW + chartW + 20} ${height}">`;
  for (let i = 0; i <= 4; i++) {
    const ms = t0 + ((t1 - t0) * i) / 4;
    svg += `<line x1="${x(ms)}" y1="${top - 6}" x2="${x(ms)}" y2="${height - 8}" stroke="#e9ecef"/><text class="tick" x="${x(ms)}" y="${top - 10}" text-anchor="middle">+${formatDuration(ms - t0)}</text>`;
  }
  for (const e of t.events) {
    if (e.type === 'started') continue;
    svg += `<line x1="${x(e.at)}" y1="${top - 4}" x2="${x(e.at)}" y2="${height - 8}" stroke="#adb5bd" stroke-dasharray="3 3"><title>${esc(`${e.type} at ${iso(e.at)} by ${e.user ?? '?'}@${e.host ?? '?'}`)}</title></line>`;
  }
  rows.forEach((slot, i) => {
    const y = top + i * rowH;
    const label = slot.cluster === ALL_CLUSTERS ? slot.step : `${slot.step} @ ${slot.cluster}`;
    svg += `<text class="row" x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(label)}</text>`;
    for (const a of slot.attempts) {
      // A killed attempt's bar ends where it was last known at work, not at the resume that closed it.
      const known = lastKnownEnd(a, t.events);
      const end = known ?? t.run.updatedAt;
      const w = Math.max(3, x(end) - x(a.startedAt));
      const killed =
        known !== null && a.endedAt !== null && known < a.endedAt
          ? `, last known at work ${iso(known)} (its driver stopped; closed when the run resumed at ${iso(a.endedAt)})`
          : '';
      const tip = `${label} attempt ${a.attempt}: ${a.outcome}, ${formatDuration(end - a.startedAt)}${killed}${a.error ? `: ${a.error.message}` : ''}`;
      svg += `<rect class="bar ${a.outcome}" x="${x(a.startedAt)}" y="${y + 4}" width="${w}" height="${rowH - 8}" rx="3" fill="${OUTCOME_COLOR[a.outcome] ?? '#868e96'}"><title>${esc(tip)}</title></rect>`;
    }
  });
  return `${svg}</svg>`;
}

function commandsSection(t: Timeline): string {
  return t.slots
    .filter((s) => s.attempts.length > 0)
    .map((s) => {
      const label = slotLabel(s.step, s.cluster);
      const attempts = s.attempts
        .map((a) => {
          const cmds = a.commands
            .map(
              (c) =>
                `<li><code>$ ${esc(displayArgv(c.argv))}</code> <span class="exit ${c.exitCode === 0 ? 'ok' : 'bad'}">${c.exitCode === null ? 'no exit recorded' : `exit ${c.exitCode}`}</span>${c.durationMs !== null ? ` ${formatDuration(c.durationMs)}` : ''}</li>`,
            )
            .join('');
          return `<div class="attempt"><span class="pill ${a.outcome}">#${a.attempt} ${a.outcome}</span> ${iso(a.startedAt)}${a.endedAt ? `, ${formatDuration(a.endedAt - a.startedAt)}` : ''}${a.error ? `<div class="err">${esc(a.error.message)}</div>` : ''}<ul>${cmds}</ul></div>`;
        })
        .join('');
      return `<details${s.attempts.some((a) => a.outcome !== 'succeeded') ? ' open' : ''}><summary>${esc(label)} <span class="muted">${s.attempts.length} attempt${s.attempts.length > 1 ? 's' : ''}</span></summary>${attempts}</details>`;
    })
    .join('\n');
}

export function reportHtml(t: Timeline, graph: MachineGraph, marks: ReadonlyMap<StepId, StepMark>): string {
  const r = t.run;
  const config = maybeRunConfig(r);
  const mesh = config ? `${clusterSummary(clusterSummaryOf(config))} · mesh ${config.meshID}` : 'config unreadable';
  const attempts = t.slots.reduce((n, s) => n + s.attempts.length, 0);
  const failedAttempts = t.slots.reduce((n, s) => n + s.attempts.filter((a) => a.outcome === 'failed').length, 0);
  const duration = (r.finishedAt ?? r.updatedAt) - r.createdAt;
  const events = t.events
    .map(
      (e) =>
        `<tr><td>${iso(e.at)}</td><td>${esc(e.type)}</td><td>${esc(`${e.user ?? '?'}@${e.host ?? '?'}`)}</td><td>${esc(e.step ? slotLabel(e.step, e.cluster ?? '') : '')}</td><td>${esc((e.detail ?? '').length > 220 ? `${(e.detail ?? '').slice(0, 219)}…` : (e.detail ?? ''))}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mesh-run ${esc(r.id)}: ${esc(r.status)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1060px;color:#212529;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dee2e6;padding-bottom:4px}
.muted{color:#868e96}.status{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}
.succeeded{background:#37b24d}.failed{background:#e03131}.interrupted{background:#f08c00}.running{background:#1c7ed6}
dl{display:grid;grid-template-columns:150px 1fr;gap:2px 12px;margin:12px 0}dt{color:#868e96}dd{margin:0}
table{border-collapse:collapse;width:100%}td:nth-child(-n+3){white-space:nowrap}td,th{text-align:left;padding:3px 8px;border-bottom:1px solid #f1f3f5;vertical-align:top}
svg text{font:12px system-ui,sans-serif;fill:#212529}svg text.region{font-weight:600;fill:#495057}svg text.edge{fill:#1864ab;font-size:11px}
svg text.tick{fill:#868e96;font-size:11px}.scroll{overflow-x:auto}
details{margin:6px 0;border:1px solid #e9ecef;border-radius:6px;padding:4px 10px}summary{cursor:pointer;font-weight:600}
.attempt{margin:6px 0 6px 8px}.pill{display:inline-block;padding:0 8px;border-radius:10px;color:#fff;font-size:12px}
.err{color:#c92a2a;margin:2px 0}ul{margin:4px 0;padding-left:18px}code{font-size:12px}.exit.ok{color:#2b8a3e}.exit.bad{color:#c92a2a}
.legend span{margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:4px;vertical-align:-1px}
</style></head><body>
<h1>mesh-run run <code>${esc(r.id)}</code> <span class="status ${esc(r.status)}">${esc(r.status)}</span></h1>
<div class="muted">${esc(r.kind)} ${esc(r.topology)} (${esc(r.mode)}) · ${esc(mesh)}</div>
<dl>
<dt>started</dt><dd>${iso(r.createdAt)}</dd>
<dt>${r.finishedAt ? 'finished' : 'last update'}</dt><dd>${iso(r.finishedAt ?? r.updatedAt)} (${formatDuration(duration)})</dd>
<dt>attempts</dt><dd>${attempts} (${failedAttempts} failed)</dd>
${r.error ? `<dt>error</dt><dd class="err">${esc(r.error.message)}${r.error.hint ? `<br><span class="muted">hint: ${esc(r.error.hint)}</span>` : ''}</dd>` : ''}
</dl>
<h2>Operator actions</h2>
<table><tr><th>at</th><th>action</th><th>who</th><th>where</th><th>detail</th></tr>${events}</table>
<h2>State machine</h2>
<div class="legend"><span><i style="background:${MARK_FILL.done};border:1px solid ${MARK_STROKE.done}"></i>done</span><span><i style="background:${MARK_FILL.failed};border:1px solid ${MARK_STROKE.failed}"></i>failed</span><span><i style="background:${MARK_FILL.current};border:1px solid ${MARK_STROKE.current}"></i>in progress</span><span>↻ tried more than once in this run</span></div>
<div class="scroll">${diagram(graph, marks, new Set(t.slots.filter((s) => s.attempts.length > 1).map((s) => s.step)))}</div>
<h2>Timeline</h2>
<div class="legend"><span><i style="background:${OUTCOME_COLOR.succeeded}"></i>succeeded</span><span><i style="background:${OUTCOME_COLOR.failed}"></i>failed</span><span><i style="background:${OUTCOME_COLOR.interrupted}"></i>interrupted</span><span><i style="background:${OUTCOME_COLOR.running}"></i>running</span><span>dashed: operator actions</span></div>
<div class="scroll">${gantt(t)}</div>
<h2>Steps and commands</h2>
${commandsSection(t)}
<p class="muted">Generated by mesh-run. Command arguments and output are redacted; the remote secret is never recorded.</p>
</body></html>
`;
}
