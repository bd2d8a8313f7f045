// mesh-run trust audit: the mesh's certificates as its primaries hold them: cacerts and who made it, the root,
// the intermediate's expiry, the chain, one root across the primaries, and the root istiod publishes.
import { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { ExitCode } from '../../shared/errors.js';
import { dbOption } from '../common.js';
import { ExitRequest } from '../exit.js';
import { painter, type Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';
import { trustAuditCsv, trustAuditText } from '../render/trust-audit.js';

const FORMATS = ['text', 'json', 'yaml', 'csv'] as const;

interface AuditOptions extends OutputFlags {
  mesh: string;
  db?: string;
  store?: string;
}

export function trustCommand(streams: Streams): Command {
  const trust = new Command('trust')
    .description("the mesh's certificates: audit the CA each primary's istiod signs with and the root it publishes")
    .addHelpText('after', '\nExamples:\n  mesh-run trust audit --mesh mesh1\n\nExit codes: see mesh-run trust audit --help.');
  const audit = trust
    .command('audit')
    .description(
      "per primary: cacerts and who made it, its root (SHA-256 fingerprint, subject), the intermediate's subject and expiry, the chain, one root across the primaries, the root istiod publishes; reads only",
    )
    .requiredOption('--mesh <mesh>', 'a mesh of the journal, installed or adopted (see "mesh-run meshes")');
  addOutputOption(audit, FORMATS)
    .addOption(dbOption())
    .addHelpText(
      'after',
      `
It reads (kubectl get only) cacerts' ca-cert.pem, root-cert.pem and cert-chain.pem by jsonpath (ca-key.pem is
never requested), and ConfigMap istio-ca-root-cert in istio-system. The certificates stay in memory: only
fingerprints, subjects and dates are printed, and nothing is written to the journal.

Findings: error when the intermediate (or root) expires within 7 days or has expired, the chain is invalid (not
signed by the root, not a CA, a path length too short), the primaries do not share one root, or several
primaries have no cacerts; warning when it expires within 30 days, or istiod publishes another root than
cacerts' (not restarted since cacerts changed) or none.

Examples:
  mesh-run trust audit --mesh mesh1
  mesh-run trust audit --mesh mesh1 -o json          rootFingerprint, intermediate.daysLeft, findings ...
  mesh-run trust audit --mesh mesh1 -o csv           a row per primary

Exit codes: 0 nothing found, 2 bad input, 3 a primary cannot be read (or the mesh is not installed),
4 no such mesh, 5 a finding of error or warning severity.`,
    )
    .action(async (options: AuditOptions) => {
      const format = formatOf(options, FORMATS);
      const { auditMeshTrust } = await import('../../engine/run-api.js');
      const report = await auditMeshTrust({ meshRef: options.mesh, store: storeLocation(options) });
      const found = report.findings.filter((f) => f.severity !== 'info').length;
      const ok = found === 0 && report.unreadable.length === 0;
      if (format === 'text') streams.stdout.write(trustAuditText(report, painter(streams.stdout)));
      else if (format === 'csv') streams.stdout.write(trustAuditCsv(report));
      else streams.stdout.write(renderDocument({ ok, ...report }, format));
      // A primary not read is an audit not done: that comes before what the others showed.
      if (report.unreadable.length > 0) throw new ExitRequest(ExitCode.precondition);
      if (found > 0) throw new ExitRequest(ExitCode.found);
    });
  return trust;
}
