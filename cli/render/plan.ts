// Renders a plan: text for reading, JSON for tools, and a bash script a person could run by hand.

import { describeMesh } from '../../engine/query-api.js';
import type { CaBundle, Command, Plan, PlannedCommand } from '../../engine/types.js';
import { BUNDLE_FILES, CACERTS, cacertsManifest, ISTIO_SYSTEM, OWNING_RESOURCE, slotLabel } from '../../engine/types.js';
import type { MeshConfig } from '../../shared/model.js';
import { displayArgv } from './argv.js';

const where = (p: PlannedCommand) => slotLabel(p.step, p.cluster);

function groups(plan: Plan): Array<{ label: string; items: PlannedCommand[] }> {
  const out: Array<{ label: string; items: PlannedCommand[] }> = [];
  for (const p of plan.commands) {
    const label = where(p);
    const last = out[out.length - 1];
    if (last && last.label === label) last.items.push(p);
    else out.push({ label, items: [p] });
  }
  return out;
}

const argvOf = (c: Command) => [c.tool, ...c.args];

const WITHHELD = 'withheld: carries private keys';

function stdinNote(c: Command): string {
  if (c.stdin === undefined) return '';
  if (c.sensitiveStdin) return `   (stdin: Secret cacerts with the CA files; ${WITHHELD})`;
  const kinds = [...c.stdin.matchAll(/^kind: (\S+)/gm)].map((m) => m[1]);
  const names = [...c.stdin.matchAll(/^metadata:\n {2}name: (\S+)/gm)].map((m) => m[1]);
  return `   (stdin: ${kinds.map((k, i) => `${k}${names[i] ? ` ${names[i]}` : ''}`).join(', ')})`;
}

export function planText(plan: Plan): string {
  const lines: string[] = [];
  for (const g of groups(plan)) {
    lines.push(g.label);
    for (const p of g.items) {
      const text = p.pipeTo ? `${displayArgv(argvOf(p.command))} | ${displayArgv(argvOf(p.pipeTo))}` : displayArgv(argvOf(p.command));
      lines.push(
        `  ${(p.command.purpose ?? '').padEnd(14)} $ ${text}${stdinNote(p.command)}${p.command.expectation ? `   (expect: ${p.command.expectation})` : ''}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export function planJson(plan: Plan): string {
  return `${JSON.stringify(
    plan.commands.map((p) => ({
      step: p.step,
      cluster: p.cluster,
      context: p.command.context || null,
      purpose: p.command.purpose ?? null,
      argv: argvOf(p.command),
      ...(p.pipeTo ? { pipeTo: argvOf(p.pipeTo) } : {}),
      ...(p.command.expectation ? { expect: p.command.expectation } : {}),
      ...(p.command.check ? { check: p.command.check } : {}),
      ...(p.command.stdin !== undefined ? (p.command.sensitiveStdin ? { stdin: WITHHELD } : { stdin: p.command.stdin }) : {}),
    })),
    null,
    2,
  )}\n`;
}

// Retries a check until every pattern matches its output (or, accumulating, the outputs so far), then fails loudly.
function checkLoop(line: string, check: NonNullable<Command['check']>, expectation: string): string[] {
  const matches = check.patterns.map((p) => `grep -Eq ${displayArgv([p])} <<<"$out"`).join(' && ');
  return [
    `# expect: ${expectation}`,
    'out=""',
    `for _ in $(seq 1 ${check.seconds}); do`,
    `  out="${check.accumulate ? '$out' : ''}$(${line} 2>/dev/null || true)"`,
    `  ${matches} && break`,
    '  sleep 1',
    'done',
    `${matches} || { echo ${displayArgv([`check failed: ${expectation}`])} >&2; exit 1; }`,
  ];
}

// As "mesh-run uninstall" does before anything runs: refuse clusters holding an Istio that mesh-run did not
// install (istioctl labels its webhooks with the IstioOperator that owns them; mesh-run's are mesh-run-*).
function ownershipCheck(config: MeshConfig): string[] {
  const lines = ['# Refuse to purge an Istio install that mesh-run did not make (its webhooks are owned by mesh-run-* IstioOperators).'];
  for (const cluster of config.clusters) {
    for (const kind of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations']) {
      const probe = displayArgv([
        config.tools.kubectl,
        `--context=${cluster.context}`,
        'get',
        kind,
        '-o',
        // kubectl's jsonpath takes the two characters \n for a newline; a real one inside the quotes it rejects.
        `jsonpath={range .items[*]}{.metadata.name}{" "}{.metadata.labels.${OWNING_RESOURCE.replace(/\./g, '\\.')}}{"\\n"}{end}`,
      ]);
      lines.push(
        `owners="$(${probe})"`,
        `if grep -E '^istio' <<<"$owners" | grep -Ev ' mesh-run-' >/dev/null; then`,
        `  echo ${displayArgv([`cluster ${cluster.name} (context ${cluster.context}) holds an Istio install that mesh-run did not make; not purging it`])} >&2; exit 1`,
        'fi',
      );
    }
  }
  return [...lines, ''];
}

// The cacerts secret as the run creates it (cacertsManifest: mesh-run's label, the CA's fingerprint annotation),
// its data read from $CA_DIR/<cluster> and streamed through a pipe into kubectl: the keys are never echoed and
// never land in a file of the script's (no here-document: bash may back one with a temporary file). As the
// run does, an existing cacerts is kept only when mesh-run made it for this CA, and the read-back must match.
function cacertsScript(cluster: string, create: string[], probe: string[], config: MeshConfig): string[] {
  const trust = config.trust;
  const dir = trust?.source === 'files' ? trust.caDir : trust?.outputDir;
  const files = (name: string) => `"$CA_DIR"/${displayArgv([cluster])}/${name}`;
  const fail = (message: string) => `{ echo "${message}" >&2; exit 1; }`;
  // The run's own manifest with markers where the script puts the fingerprint and each file's base64.
  const template = cacertsManifest('@fingerprint@', Object.fromEntries(BUNDLE_FILES.map((f) => [f, `@file:${f}@`])) as Record<keyof CaBundle, string>);
  const pieces = template.split(/@(fingerprint|file:[^@]+)@/).map((piece, n) => {
    if (n % 2 === 0) return `printf %s ${displayArgv([piece])}`;
    if (piece === 'fingerprint') return 'printf %s "$ca_fp"';
    return `base64 <${files(piece.slice('file:'.length))} | tr -d '\\n'`;
  });
  const secret = `secret ${ISTIO_SYSTEM}/${CACERTS} on ${cluster}`;
  return [
    `# cacerts on ${cluster}: the CA files (root + intermediate for this cluster) are read from $CA_DIR/${cluster}`,
    dir
      ? `[ -n "\${CA_DIR:-}" ] || CA_DIR=${displayArgv([dir])}`
      : `: "\${CA_DIR:?set CA_DIR to the directory holding ${cluster}/ca-cert.pem and the other CA files}"`,
    `for f in ${BUNDLE_FILES.join(' ')}; do`,
    `  [ -r ${files('"$f"')} ] || ${fail(`cacerts for ${cluster}: ${'$CA_DIR'}/${cluster}/$f is missing`)}`,
    'done',
    `ca_fp="$(openssl x509 -in ${files('ca-cert.pem')} -noout -fingerprint -sha256 | sed 's/^.*=//; s/://g' | tr 'A-F' 'a-f')"`,
    `[ -n "$ca_fp" ] || ${fail(`cacerts for ${cluster}: no certificate in $CA_DIR/${cluster}/ca-cert.pem`)}`,
    `if found_fp="$(${displayArgv(probe)} 2>/dev/null)"; then`,
    `  [ -n "$found_fp" ] || ${fail(`${secret} already exists and was not created by mesh-run; not replacing it`)}`,
    `  [ "$found_fp" = "$ca_fp" ] || ${fail(`${secret} holds CA \${found_fp:0:16}, not the CA in $CA_DIR/${cluster} (\${ca_fp:0:16}); not replacing it`)}`,
    `  echo "cacerts on ${cluster} already holds CA \${ca_fp:0:16}; kept" >&2`,
    'else',
    `  { ${pieces.join('; ')}; } | ${displayArgv(create)}`,
    'fi',
    `found_fp="$(${displayArgv(probe)})"`,
    `[ "$found_fp" = "$ca_fp" ] || ${fail(`${secret} does not carry CA \${ca_fp:0:16} after creating it (read back: '\${found_fp}')`)}`,
  ];
}

// The script follows the Istio page: each act is idempotent or guarded, each wait a bounded polling loop.
export function planScript(plan: Plan, config: MeshConfig): string {
  const quote = (argv: string[]) => displayArgv(argv);
  const tool = (c: Command) => [config.tools[c.tool], ...c.args];
  const out: string[] = [
    '#!/usr/bin/env bash',
    `# Istio ${describeMesh(config)}; mesh ${config.meshID}${config.revision ? `, revision ${config.revision}` : ''}.`,
    ...config.clusters.map((c) => `#   ${c.name} (context ${c.context}): ${c.role}${c.controlPlane ? ` of ${c.controlPlane}` : ''}, network ${c.network}`),
    '# Written by "mesh-run plan --format sh" from the same step definitions mesh-run executes.',
    'set -euo pipefail',
    '',
    ...(plan.removesMesh ? ownershipCheck(config) : []),
  ];
  let heredoc = 0;
  const looped = new Set<string>();
  // Commands a block written for an earlier one already covers.
  const consumed = new Set<PlannedCommand>();
  for (const g of groups(plan)) {
    out.push(`# --- ${g.label}`);
    let lastObserve: Command | undefined;
    for (const [i, p] of g.items.entries()) {
      if (consumed.has(p)) continue;
      const c = p.command;
      if (c.purpose === 'observe') {
        lastObserve = c;
        continue;
      }
      if (c.waitFor) {
        const v = c.waitFor.variable;
        const probe = quote([...tool(c).filter((a, i, all) => !(a === 'json' && all[i - 1] === '-o') && a !== '-o'), '-o', `jsonpath=${c.waitFor.jsonpath}`]);
        out.push(
          `${v}=""`,
          `for _ in $(seq 1 ${c.waitFor.timeoutSeconds}); do`,
          `  ${v}="$(${probe} 2>/dev/null || true)"`,
          `  [ -n "$${v}" ] && break`,
          '  sleep 1',
          'done',
          `[ -n "$${v}" ] || { echo ${displayArgv([`no load-balancer IP for the east-west gateway on ${p.cluster}; install a load-balancer provider (e.g. MetalLB)`])} >&2; exit 1; }`,
          `echo "${v}=$${v}"`,
        );
        continue;
      }
      if (c.sensitiveStdin) {
        // The step reads its fingerprint back right after creating the secret: the script's block does too.
        const readBack = g.items.slice(i + 1).find((q) => q.command.purpose === 'verify' && q.command.args.includes(CACERTS));
        if (!readBack) throw new Error(`plan: the cacerts step on ${p.cluster} reads nothing back (internal error)`);
        consumed.add(readBack);
        out.push(...cacertsScript(p.cluster, tool(c), tool(readBack.command), config));
        continue;
      }
      if (c.check) {
        let line = quote(tool(c));
        if (c.args.includes('exec') && lastObserve) {
          // The pod is looked up at run time, as the docs do.
          const pod = c.args[c.args.indexOf('--') - 1] as string;
          line = line.replace(quote([pod]), `"$(${quote(tool(lastObserve))})"`);
        }
        // A check the rehearsal repeated (requests until both versions answered) is one loop in a script.
        if (!looped.has(line)) out.push(...checkLoop(line, c.check, c.expectation ?? 'the check'));
        looped.add(line);
        continue;
      }
      if (c.purpose === 'verify' && p.absent) {
        // The step deleted it and checks it is gone: a NotFound is the expected answer (where it deleted it).
        const guard = c.when ? `[ "$${c.when.variable}" = ${displayArgv([c.when.equals])} ] && ` : '';
        const what = c.args
          .filter((a) => !a.startsWith('-'))
          .slice(1, 3)
          .join(' ');
        out.push(`if ${guard}${quote(tool(c))} >/dev/null 2>&1; then echo ${displayArgv([`still there after deleting it: ${what}`])} >&2; exit 1; fi`);
        continue;
      }
      let line = quote(tool(c));
      if (p.pipeTo) line = `${line} | ${quote(tool(p.pipeTo))}`;
      if (c.purpose === 'act-if-missing' && lastObserve) line = `${quote(tool(lastObserve))} >/dev/null 2>&1 || ${line}`;
      if (c.when) {
        const v = c.when.variable;
        out.push(
          `${v}="$(${quote(tool(c.when.probe))} 2>/dev/null || true)"`,
          `if [ "$${v}" = ${displayArgv([c.when.equals])} ]; then`,
          `  ${line}`,
          'else',
          `  echo ${displayArgv([c.when.otherwise])} >&2`,
          'fi',
        );
        continue;
      }
      if (c.stdin !== undefined) {
        const tag = `MANIFEST_${++heredoc}`;
        // A gateway address the rehearsal saw becomes the shell variable its wait loop filled.
        let body = c.stdin;
        for (const [ip, variable] of Object.entries(plan.rehearsedAddresses)) body = body.split(ip).join(`\${${variable}}`);
        const usesAddress = body !== c.stdin;
        out.push(`${line} <<${usesAddress ? tag : `'${tag}'`}`, body.trimEnd(), tag);
      } else {
        out.push(line);
      }
    }
    out.push('');
  }
  return out.join('\n');
}
