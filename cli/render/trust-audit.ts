// mesh-run trust audit as text: a row per primary (who made cacerts, its root, the intermediate's expiry, the
// chain, what istiod publishes), the subjects, then every finding, worst first.
import type { PrimaryTrust, TrustAuditReport } from '../../engine/types.js';
import type { painter } from '../output.js';
import { csv } from './csv.js';
import { table } from './table.js';

type Paint = ReturnType<typeof painter>;
const short = (fp: string | undefined) => (fp ? fp.slice(0, 16) : '');

function publishedCell(p: PrimaryTrust): string {
  if (p.published === null) return 'none';
  if (!p.published) return '';
  if (p.rootSource === 'istiod') return 'its own root';
  return p.published.matchesCacerts === false ? `other: ${short(p.published.fingerprint)}` : 'cacerts root';
}

function row(p: PrimaryTrust, paint: Paint): string[] {
  if (p.error !== undefined) return [p.cluster, paint('red', 'unreadable'), '', '', '', '', ''];
  const root = p.rootFingerprint ? `${short(p.rootFingerprint)}${p.rootSource === 'istiod' ? " (istiod's own)" : ''}` : '';
  const chain = p.chain ? (p.chain.valid ? 'valid' : paint('red', 'invalid')) : '';
  return [
    p.cluster,
    p.cacerts,
    root,
    p.intermediate?.notAfter.slice(0, 10) ?? '',
    p.intermediate ? String(p.intermediate.daysLeft) : '',
    chain,
    publishedCell(p),
  ];
}

// What a primary's certificates are, in words: subjects, validity, path length and istiod's SAN.
function subjects(p: PrimaryTrust): string | undefined {
  const parts: string[] = [];
  if (p.rootSubject) parts.push(`root ${p.rootSubject} (until ${p.rootNotAfter?.slice(0, 10) ?? '?'})`);
  if (p.intermediate) {
    const pathLen = p.chain?.pathLength === null || p.chain === undefined ? 'no pathLen' : `pathLen ${p.chain.pathLength}`;
    parts.push(`intermediate ${p.intermediate.subject} (${pathLen}${p.intermediate.istiodSan ? ', SAN istiod.istio-system.svc' : ''})`);
  }
  return parts.length > 0 ? `  ${p.cluster}: ${parts.join('; ')}` : undefined;
}

export function trustAuditText(report: TrustAuditReport, paint: Paint): string {
  const lines = [
    `trust of mesh ${report.mesh} (${report.target}):`,
    table(
      ['PRIMARY', 'CACERTS', 'ROOT', 'EXPIRES', 'DAYS', 'CHAIN', 'ISTIOD PUBLISHES'],
      report.primaries.map((p) => row(p, paint)),
    ),
  ];
  const described = report.primaries.map(subjects).filter((s): s is string => s !== undefined);
  if (described.length > 0) lines.push('certificates:', ...described);
  const readable = report.primaries.length - report.unreadable.length;
  if (report.sharedRoot !== null && readable > 1)
    lines.push(report.sharedRoot ? `one root across ${readable} primaries` : paint('red', 'the primaries do not share one root'));
  const mark = { error: paint('red', '✖'), warning: paint('yellow', '!'), info: '·' };
  for (const f of report.findings) lines.push(`${mark[f.severity]} ${f.cluster ? `${f.cluster}: ` : ''}${f.message}`);
  for (const u of report.unreadable) lines.push(`${mark.error} ${u.cluster}: cannot be read: ${u.error}`);
  if (report.unreadable.length === 0 && !report.findings.some((f) => f.severity !== 'info')) lines.push(`${paint('green', '✔')} nothing found`);
  return `${lines.join('\n')}\n`;
}

// The audit as CSV: a row per primary, its findings joined in one cell (the mesh's own in every row's last).
export function trustAuditCsv(report: TrustAuditReport): string {
  const rows = report.primaries.map((p) => [
    p.cluster,
    p.error !== undefined ? 'unreadable' : p.cacerts,
    p.rootFingerprint ?? null,
    p.rootSource ?? null,
    p.rootSubject ?? null,
    p.intermediate?.subject ?? null,
    p.intermediate?.notAfter ?? null,
    p.intermediate?.daysLeft ?? null,
    p.chain ? (p.chain.valid ? 'valid' : 'invalid') : null,
    p.published?.fingerprint ?? null,
    report.findings
      .filter((f) => f.cluster === p.cluster || f.cluster === undefined)
      .map((f) => `${f.severity}: ${f.message}`)
      .concat(p.error !== undefined ? [`error: cannot be read: ${p.error}`] : [])
      .join('; '),
  ]);
  return csv(
    [
      'primary',
      'cacerts',
      'root_fingerprint',
      'root_source',
      'root_subject',
      'intermediate_subject',
      'intermediate_not_after',
      'days_left',
      'chain',
      'published_fingerprint',
      'findings',
    ],
    rows,
  );
}
