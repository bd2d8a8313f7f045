// mesh-run secrets audit | rotate: the remote secrets of a mesh, as istiod uses them, and their tokens renewed.
import { Command } from 'commander';
import { storeLocation } from '../../engine/composition.js';
import type { SecretsAuditReport } from '../../engine/types.js';
import { ExitCode } from '../../shared/errors.js';
import { addClusterOptions, type ClusterFlags, dayTwoRunOptions, dbOption, overridesOf } from '../common.js';
import { ExitRequest } from '../exit.js';
import { painter, type Streams } from '../output.js';
import { addOutputOption, formatOf, type OutputFlags, renderDocument } from '../output-format.js';
import { csv } from '../render/csv.js';
import { table } from '../render/table.js';
import { runVerb } from '../run-session.js';
import { rehearsed } from './cluster.js';

const FORMATS = ['text', 'json', 'yaml', 'csv'] as const;

interface AuditOptions extends ClusterFlags, OutputFlags {
  run?: string;
  mesh?: string;
  config?: string;
  db?: string;
  store?: string;
}

export function secretsCommand(streams: Streams): Command {
  const secrets = new Command('secrets')
    .description('the remote secrets of a mesh: audit what each primary holds, rotate their tokens')
    .addHelpText(
      'after',
      '\nExamples:\n  mesh-run secrets audit --run mr-k3x9p2qa\n  mesh-run secrets rotate --mesh mesh1\n\nExit codes: see mesh-run secrets audit --help and mesh-run secrets rotate --help.',
    );
  const audit = secrets
    .command('audit')
    .description('every remote secret on every primary: credential type, token age and expiry, server address, label, istiod sync')
    .option('--mesh <mesh>', 'a mesh of the journal (see "mesh-run meshes")')
    .option('--run <id>', 'the mesh of this install run (dry or real; or a unique prefix of its id)')
    .option('-c, --config <file>', 'the real clusters of this config');
  addOutputOption(addClusterOptions(audit), FORMATS)
    .addOption(dbOption())
    .addHelpText(
      'after',
      `
The tokens are read in memory only: their claims and a fingerprint (a hash prefix) are shown, never a value.

Examples:
  mesh-run secrets audit --mesh mesh1
  mesh-run secrets audit --run mr-k3x9p2qa
  mesh-run secrets audit -c mesh.yaml -o json

Exit codes: 0 every secret is usable, 2 bad input, 3 a secret is missing, unusable or not synced, 4 no such run.`,
    )
    .action(async (options: AuditOptions) => {
      const format = formatOf(options, FORMATS);
      const { auditSecrets } = await import('../../engine/run-api.js');
      const report = await auditSecrets({
        ...(options.run !== undefined ? { runRef: options.run } : {}),
        ...(options.mesh !== undefined ? { meshRef: options.mesh } : {}),
        ...(options.config !== undefined ? { configPath: options.config } : {}),
        overrides: overridesOf(options),
        store: storeLocation(options),
      });
      const problems = report.missing.length + report.unreadable.length + report.secrets.flatMap((s) => s.findings).filter((f) => f.level === 'problem').length;
      if (format === 'csv') streams.stdout.write(auditCsv(report));
      else if (format !== 'text') streams.stdout.write(renderDocument({ ok: problems === 0, problems, ...report }, format));
      else {
        const paint = painter(streams.stdout);
        const rows = report.secrets.map((s) => [
          s.holder,
          s.cluster,
          s.credential,
          s.fingerprint ?? '',
          s.ageDays !== undefined ? `${s.ageDays}d` : '?',
          s.expiresAt === undefined ? '' : s.expiresAt === null ? 'never' : s.expiresAt.slice(0, 10),
          s.server,
          s.synced,
        ]);
        const lines = [`remote secrets on ${report.target}:`, table(['PRIMARY', 'CLUSTER', 'CREDENTIAL', 'TOKEN', 'AGE', 'EXPIRES', 'SERVER', 'ISTIOD'], rows)];
        for (const s of report.secrets)
          for (const f of s.findings) lines.push(`${f.level === 'problem' ? paint('red', '✖') : paint('yellow', '!')} ${s.holder}/${s.secret}: ${f.message}`);
        for (const m of report.missing) lines.push(`${paint('red', '✖')} ${m.holder} holds no secret for ${m.cluster}: istiod there cannot see it`);
        for (const u of report.unreadable) lines.push(`${paint('red', '✖')} cannot list the remote secrets on ${u.holder}: ${u.error}`);
        streams.stdout.write(`${lines.join('\n')}\n`);
      }
      if (problems > 0) throw new ExitRequest(ExitCode.precondition);
    });
  dayTwoRunOptions(
    secrets
      .command('rotate')
      .description(
        "a new token for every remote secret (or one cluster's), swapped in with no moment when istiod lacks a working one: new token, secret replaced on every primary, istiod synced, then the old token revoked and seen refused; a resumable run",
      )
      .requiredOption('--mesh <mesh>', 'the mesh (see "mesh-run meshes")')
      .option('--cluster <cluster>', "only this cluster's secret (default: every cluster whose secret primaries hold)")
      .option('--skip-sync-gate', 'revoke the old token without istiod reporting the cluster synced with the new one (where no istiod can be asked); journaled')
      .option('--dry-run', 'a real mesh: rehearse on a simulated copy of it as the journal records it (no real cluster is touched)'),
  )
    .addHelpText(
      'after',
      `
Tokens never reach the journal: only their fingerprints (a hash prefix), as "mesh-run secrets audit" shows them.
A failure before the old token is revoked leaves it valid: resume continues. After it, the new secret stays.

Examples:
  mesh-run secrets rotate --mesh mesh1
  mesh-run secrets rotate --mesh fleet --cluster east-2
  mesh-run secrets rotate --mesh prod --dry-run           rehearse on a simulated copy of real mesh prod

Exit codes: 0 rotated, 1 run failed (resumable with "mesh-run resume"), 2 bad input (nothing changed),
3 the mesh is not installed or its clusters are in use by another live run, 130/143 interrupted (resumable).`,
    )
    .action(async (options: RotateOptions) => {
      const { prepareSecretsRotate } = await import('../../engine/run-api.js');
      const request = {
        meshRef: options.mesh,
        ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
        skipSyncGate: Boolean(options.skipSyncGate),
        dryRun: Boolean(options.dryRun),
        injections: options.injectFailure ?? [],
        store: storeLocation(options),
      };
      await runVerb(
        streams,
        options,
        (listener) => prepareSecretsRotate(request, listener),
        (run) => `run ${run.id} (secrets rotate on mesh ${options.mesh}${rehearsed(run, options)})`,
      );
    });
  return secrets;
}

interface RotateOptions {
  mesh: string;
  cluster?: string;
  skipSyncGate?: boolean;
  dryRun?: boolean;
  injectFailure?: string[];
  db?: string;
  store?: string;
  json?: boolean;
  quiet?: boolean;
}

// The audit as CSV: a row per secret a primary holds, per secret it lacks (state missing) and per primary
// whose secrets could not be listed (state unreadable); findings joined in one cell.
function auditCsv(report: SecretsAuditReport): string {
  const rows = [
    ...report.secrets.map((s) => [
      s.holder,
      s.cluster,
      'present',
      s.secret,
      s.credential,
      s.fingerprint ?? null,
      s.issuedAt ?? null,
      s.expiresAt ?? null,
      s.server,
      s.synced,
      s.findings.map((f) => `${f.level}: ${f.message}`).join('; '),
    ]),
    ...report.missing.map((m) => [m.holder, m.cluster, 'missing', null, null, null, null, null, null, null, 'problem: istiod there cannot see it']),
    ...report.unreadable.map((u) => [u.holder, null, 'unreadable', null, null, null, null, null, null, null, `problem: ${u.error}`]),
  ];
  return csv(['primary', 'cluster', 'state', 'secret', 'credential', 'token_fingerprint', 'issued_at', 'expires_at', 'server', 'istiod', 'findings'], rows);
}
