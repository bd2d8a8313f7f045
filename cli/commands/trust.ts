// mesh-run trust audit: the mesh's certificates as its primaries hold them: cacerts and who made it, the root,
// the intermediate's expiry, the chain, one root across the primaries, and the root istiod publishes.
import { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import { ExitCode } from '../../shared/errors.js';
import { dayTwoRunOptions, dbOption } from '../common.js';
import { ExitRequest } from '../exit.js';
import { painter, type Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';
import { trustAuditCsv, trustAuditText } from '../render/trust-audit.js';
import { runVerb } from '../run-session.js';
import { rehearsed } from './cluster.js';

const FORMATS = ['text', 'json', 'yaml', 'csv'] as const;

interface AuditOptions extends OutputFlags {
  mesh: string;
  db?: string;
  store?: string;
}

export function trustCommand(streams: Streams): Command {
  const trust = new Command('trust')
    .description("the mesh's certificates: audit the CA each primary's istiod signs with and the root it publishes; rotate the intermediates")
    .addHelpText(
      'after',
      '\nExamples:\n  mesh-run trust audit --mesh mesh1\n  mesh-run trust rotate --mesh mesh1 --intermediate\n\nExit codes: see mesh-run trust audit --help and mesh-run trust rotate --help.',
    );
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
  rotateCommand(trust, streams);
  return trust;
}

interface RotateOptions {
  mesh: string;
  intermediate?: boolean;
  root?: boolean;
  rootCert?: string;
  rootKey?: string;
  force?: boolean;
  dryRun?: boolean;
  injectFailure?: string[];
  db?: string;
  store?: string;
  json?: boolean;
  quiet?: boolean;
}

function rotateCommand(trust: Command, streams: Streams): void {
  dayTwoRunOptions(
    trust
      .command('rotate')
      .description(
        'new intermediate CAs from the same root, one primary at a time: minted into the trust directory, cacerts replaced, istiod made to load it, and istiod seen serving the new chain before the next primary; a resumable run',
      )
      .requiredOption('--mesh <mesh>', 'the mesh (see "mesh-run meshes")')
      .option('--intermediate', 'rotate the intermediates under the same root')
      .option('--root', 'rotate the root (not supported yet: docs/trust-rotation.md)')
      .option('--root-cert <file>', "the root to sign with (default: root-cert.pem of the mesh's trust.outputDir or trust.caDir)")
      .option('--root-key <file>', 'its key (default: root-key.pem beside it); read here, never journaled')
      .option('--force', "also replace a cacerts that was there before mesh-run (a user's, an adopted mesh's); journaled")
      .option('--dry-run', 'a real mesh: rehearse on a simulated copy of it, under a throwaway root (no real cluster or key is touched)'),
  )
    .addHelpText(
      'after',
      `
The new keys are written into the mesh's trust directory, or for a mesh that keeps none (--root-cert) into
mesh-run's own $XDG_STATE_HOME/mesh-run/trust/<mesh> (<dir>/<cluster>/next/ until cacerts holds them, then
<dir>/<cluster>/, the replaced bundle kept in <dir>/<cluster>/retired/<fingerprint>/): keys 0600, directories
mesh-run makes 0700; a <dir>/<cluster> open to others is refused (exit 2), never chmod-ed. A --dry-run's
throwaway keys are removed when it ends. A stopped rotation keeps them there, and its resume reuses them. The journal keeps fingerprints and dates.
istiod 1.24 and later reloads the new intermediate by itself; an older one (or one whose version is not known)
is restarted, as install would.

Examples:
  mesh-run trust rotate --mesh mesh1 --intermediate
  mesh-run trust rotate --mesh fleet --intermediate --root-cert ca/root-cert.pem --root-key ca/root-key.pem
  mesh-run trust rotate --mesh prod --intermediate --dry-run       rehearse on a simulated copy

Exit codes: 0 rotated, 1 run failed (resumable with "mesh-run resume"), 2 bad input (nothing changed),
3 a cacerts is not mesh-run's (without --force), the mesh is not installed, or its clusters are in use,
130/143 interrupted (resumable).`,
    )
    .action(async (options: RotateOptions) => {
      const { prepareTrustRotate } = await import('../../engine/run-api.js');
      const request = {
        meshRef: options.mesh,
        intermediate: Boolean(options.intermediate),
        root: Boolean(options.root),
        ...(options.rootCert !== undefined ? { rootCert: options.rootCert } : {}),
        ...(options.rootKey !== undefined ? { rootKey: options.rootKey } : {}),
        force: Boolean(options.force),
        dryRun: Boolean(options.dryRun),
        injections: options.injectFailure ?? [],
        store: storeLocation(options),
      };
      await runVerb(
        streams,
        options,
        (listener) => prepareTrustRotate(request, listener),
        (run) => `run ${run.id} (trust rotate on mesh ${options.mesh}${rehearsed(run, options)}; ${keysWhere(run, rehearsed(run, options) !== '')})`,
      );
    });
}

// Where the run keeps the new keys, said on its first line.
function keysWhere(run: { config?: { trustRotate?: { keysDir: string } } | null }, rehearsal: boolean): string {
  const dir = run.config?.trustRotate?.keysDir ?? '(unknown)';
  return rehearsal ? `throwaway keys in ${dir}, removed when it ends` : `new keys in ${dir}`;
}
