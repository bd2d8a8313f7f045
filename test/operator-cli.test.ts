// The everyday controls: one -o flag on the read verbs (--json its alias), help with examples and exit
// codes everywhere, report's default file, and shell completion that knows verbs, flags, steps and run ids.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI, runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const db = join(tmp.dir, 'journal.db');
let id = '';

beforeAll(async () => {
  const installed = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-q', '--db', db]);
  expect(installed.code, installed.stderr).toBe(0);
  id = runIdFrom(installed);
});

describe('help', () => {
  it('every verb and subcommand has examples and exit codes, and no "(default: [])"', async () => {
    const top = await runCli(['--help']);
    const verbs = [...top.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1] as string).filter((v) => v !== 'help');
    expect(verbs).toEqual(expect.arrayContaining(['install', 'resume', 'cancel', 'completion', 'version', 'config']));
    expect(top.stdout).not.toContain('__complete');
    const pages = [...verbs.map((v) => [v]), ['config', 'check'], ['config', 'schema'], ['store', 'copy']];
    for (const page of pages) {
      const help = await runCli([...page, '--help']);
      expect(help.code, page.join(' ')).toBe(0);
      expect(help.stdout, page.join(' ')).toMatch(/Examples?:/);
      expect(help.stdout, page.join(' ')).toMatch(/Exit codes/);
      expect(help.stdout, page.join(' ')).not.toContain('(default: [])');
    }
  });
});

describe('-o, --output', () => {
  it.each([
    ['status', () => ['status', id]],
    ['runs', () => ['runs']],
    ['history', () => ['history', '--run', id]],
    ['show', () => ['show', id]],
  ])('%s: -o json is --json, -o yaml is the same document', async (_verb, args) => {
    const json = await runCli([...args(), '-o', 'json', '--db', db]);
    const alias = await runCli([...args(), '--json', '--db', db]);
    const yaml = await runCli([...args(), '-o', 'yaml', '--db', db]);
    expect(json.code, json.stderr).toBe(0);
    expect(alias.stdout).toBe(json.stdout);
    expect(parse(yaml.stdout)).toEqual(JSON.parse(json.stdout));
  });

  it('show counts the tool processes each attempt spawned, and the run in all', async () => {
    const doc = JSON.parse((await runCli(['show', id, '-o', 'json', '--db', db])).stdout) as { steps: Array<{ attempts: Array<{ commands: unknown[] }> }> };
    const total = doc.steps.flatMap((s) => s.attempts).reduce((n, a) => n + a.commands.length, 0);
    expect(total).toBeGreaterThan(10);
    const text = (await runCli(['show', id, '--db', db])).stdout;
    expect(text.split('\n')[0]).toMatch(new RegExp(`succeeded  ${total} tool processes$`));
    // install-remote: istioctl install, then the webhook read back.
    expect(text).toMatch(/install-remote@cluster2\n {2}#1 succeeded +\S+ \S+ +\S+ +\d+ process(es)?/);
  });

  it('runs and history write CSV; two formats at once are refused with exit 2', async () => {
    const runs = await runCli(['runs', '-o', 'csv', '--db', db]);
    expect(runs.stdout.split('\r\n')[0]).toBe('run,kind,status,mode,topology,primaries,remotes,networks,started,active_ms,at_step');
    expect(runs.stdout).toContain(`${id},install,succeeded,dry-run,primary-remote,cluster1,cluster2,network1,`);
    const both = await runCli(['history', '--json', '-o', 'csv', '--db', db]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('-o csv and --json: choose one output format');
    const unsupported = await runCli(['show', id, '-o', 'csv', '--db', db]);
    expect(unsupported.code).toBe(2);
    expect(unsupported.stderr).toContain('csv is offered where a table is printed; this verb prints none');
  });

  it('the form for people is "text" on every verb, and "-o table" is the same', async () => {
    const pairs: string[][] = [
      ['status', id],
      ['runs'],
      ['history', '--run', id],
      ['show', id],
      ['meshes'],
      ['mesh', 'show', 'mesh1'],
      ['logs', id],
      ['plan'],
      ['config', 'check'],
    ];
    for (const args of pairs) {
      const at = args[0] === 'config' ? [] : ['--db', db];
      const plain = await runCli([...args, ...at]);
      const text = await runCli([...args, '-o', 'text', ...at]);
      const table = await runCli([...args, '-o', 'table', ...at]);
      expect(text.code, `${args.join(' ')}: ${text.stderr}`).toBe(0);
      expect(table.code, `${args.join(' ')}: ${table.stderr}`).toBe(0);
      // (times such as "ago" move on between two calls: compare the first lines)
      expect(text.stdout.split('\n').slice(0, 3), args.join(' ')).toEqual(plain.stdout.split('\n').slice(0, 3));
      expect(table.stdout.split('\n').slice(0, 3), args.join(' ')).toEqual(plain.stdout.split('\n').slice(0, 3));
    }
    expect((await runCli(['mesh', 'show', 'mesh1', '--db', db])).stdout).toContain(`made by   ${id}; members from ${id}; 1 run\n`);
    const help = await runCli(['status', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('text, json, yaml, csv (default text; table is the same as text)');
  });

  it('every verb that prints a table writes it as CSV too', async () => {
    const rows = async (args: string[]) => {
      const result = await runCli([...args, '-o', 'csv', ...(args[0] === 'config' ? [] : ['--db', db])]);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      return result.stdout.split('\r\n').filter((l) => l !== '');
    };
    const status = await rows(['status', id]);
    expect(status[0]).toBe('run,step,cluster,status,attempts,started_at,ended_at,last_error');
    expect(status).toContain(
      `${id},install-remote,cluster2,succeeded,1,${status
        .find((l) => l.includes(',install-remote,'))
        ?.split(',')
        .slice(5)
        .join(',')}`,
    );
    expect(status).toHaveLength(10);
    const meshes = await rows(['meshes']);
    expect(meshes[0]).toBe('mesh,state,mode,topology,clusters,created_by,last_run,last_kind,last_status,runs');
    expect(meshes[1]).toBe(`mesh1,installed,dry-run,primary-remote,2,${id},${id},install,succeeded,1`);
    const members = await rows(['mesh', 'show', 'mesh1']);
    expect(members[0]).toBe('mesh,cluster,role,network,context,last_run,last_kind,last_step,outcome,at');
    expect(members[2]).toMatch(new RegExp(`^mesh1,cluster2,remote,network1,cluster2,${id},install,attach-remote,succeeded,\\d{4}-`));
    const audit = await rows(['secrets', 'audit', '--run', id]);
    expect(audit[0]).toBe('primary,cluster,state,secret,credential,token_fingerprint,issued_at,expires_at,server,istiod,findings');
    expect(audit[1]).toMatch(/^cluster1,cluster2,present,istio-remote-secret-cluster2,token,[0-9a-f]{12},/);
    const check = await rows(['config', 'check']);
    expect(check).toEqual([
      'cluster,context,role,control_plane,network,eastwest_gateway,exposes_istiod,secret_on,install_steps',
      'cluster1,cluster1,primary,,network1,yes,yes,,install-primary install-eastwest-gateway await-gateway-address expose-istiod',
      'cluster2,cluster2,remote,cluster1,network1,no,no,cluster1,create-remote-namespace annotate-remote-namespace install-remote attach-remote',
    ]);
  });

  it('logs -o json prints one object per command', async () => {
    const logs = await runCli(['logs', id, '--step', 'install-remote', '-o', 'json', '--db', db]);
    const lines = logs.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: string; cluster: string; argv: string[]; exitCode: number });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.step === 'install-remote' && l.cluster === 'cluster2' && ['istioctl', 'kubectl'].includes(l.argv[0] as string))).toBe(true);
  });

  it('plan, graph and config check take -o too; plan keeps --format', async () => {
    const sh = await runCli(['plan', '-o', 'sh']);
    expect((await runCli(['plan', '--format', 'sh'])).stdout).toBe(sh.stdout);
    expect(sh.stdout.startsWith('#!/usr/bin/env bash')).toBe(true);
    expect(parse((await runCli(['plan', '-o', 'yaml'])).stdout)).toEqual(JSON.parse((await runCli(['plan', '-o', 'json'])).stdout));
    expect((await runCli(['graph', '-o', 'dot'])).stdout).toMatch(/^digraph/);
    expect(parse((await runCli(['config', 'check', '-o', 'yaml'])).stdout)).toEqual(JSON.parse((await runCli(['config', 'check', '--json'])).stdout));
  });

  it('report writes <id>.html here by default, or the file -o names', async () => {
    const dir = join(tmp.dir, 'reports');
    mkdirSync(dir);
    const byDefault = await runCli(['report', id, '--db', db], { cwd: dir });
    expect(byDefault.code, byDefault.stderr).toBe(0);
    expect(byDefault.stdout).toBe(`wrote ${id}.html (run ${id})\n`);
    expect(readFileSync(join(dir, `${id}.html`), 'utf8')).toContain('<html');
    const named = await runCli(['report', id, '-o', join(dir, 'r.html'), '--db', db]);
    expect(named.code).toBe(0);
    expect(existsSync(join(dir, 'r.html'))).toBe(true);
  });
});

describe('waits', () => {
  it('say what they wait for, how long they have waited, and when they give up', async () => {
    const wait = await runCli(['install', '--dry-run', '--sim-lb-delay', '2s', '--db', join(tmp.dir, 'wait.db')]);
    expect(wait.code, wait.stderr).toBe(0);
    expect(wait.stderr).toMatch(
      /\d\d:\d\d:\d\d await-gateway-address@cluster1 waiting: no load-balancer address yet \(waited \d+(ms|\.\ds); gives up at \d\d:\d\d:\d\d, in [45]m\d\ds\)/,
    );
    // One line when the wait starts, then one a minute: a 2-second wait prints one.
    expect(wait.stderr.match(/waiting: no load-balancer address yet/g)).toHaveLength(1);
  });
});

describe('filters of the read verbs', () => {
  it('a step or cluster the run (or journal) does not have exits 2 in one line naming the flag, the nearest and the known values', async () => {
    const at = ['--db', db];
    const refused: Array<[string[], string]> = [
      [['logs', id, '--cluster', 'nosuch'], `--cluster "nosuch": run ${id} has no cluster "nosuch"; its clusters: cluster1, cluster2, all`],
      [
        ['logs', id, '--cluster', 'clustr2'],
        `--cluster "clustr2": run ${id} has no cluster "clustr2" (did you mean cluster2?); its clusters: cluster1, cluster2, all`,
      ],
      [['logs', id, '--cluster', 'nosuch', '--follow'], `--cluster "nosuch": run ${id} has no cluster "nosuch"; its clusters: cluster1, cluster2, all`],
      [
        ['logs', id, '--step', 'instal-remote'],
        `--step "instal-remote": install run ${id} has no step "instal-remote" (did you mean install-remote?); its steps: `,
      ],
      // A step of another topology or kind is not one of this run's.
      [['logs', id, '--step', 'exchange-secret'], `--step "exchange-secret": install run ${id} has no step "exchange-secret"; its steps: preflight, `],
      [['history', '--run', id, '--cluster', 'nosuch'], `--cluster "nosuch": run ${id} has no cluster "nosuch"; its clusters: cluster1, cluster2, all`],
      [['history', '--run', id, '--step', 'check-traffic'], `--step "check-traffic": install run ${id} has no step "check-traffic"; its steps: `],
      [['history', '--cluster', 'nosuch'], '--cluster "nosuch": the journal has no cluster "nosuch"; its clusters: cluster1, cluster2, all'],
      [
        ['history', '--kind', 'verify', '--step', 'install-remote'],
        '--step "install-remote": a verify run has no step "install-remote"; its steps: preflight, check-remote-clusters',
      ],
      [['history', '--step', 'nosuch'], '--step "nosuch": mesh-run has no step "nosuch"; its steps: preflight, '],
    ];
    for (const [argv, message] of refused) {
      const result = await runCli([...argv, ...at]);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stdout, argv.join(' ')).toBe('');
      expect(result.stderr.split('\n').filter(Boolean), argv.join(' ')).toHaveLength(1);
      expect(result.stderr, argv.join(' ')).toContain(`mesh-run: error: ${message}`);
    }
    // Known names that match nothing are an empty answer, not an error.
    const empty: Array<[string[], string]> = [
      [['logs', id, '--cluster', 'cluster1', '--step', 'install-remote'], 'no commands match\n'],
      [['history', '--cluster', 'cluster2', '--status', 'failed'], 'no step attempts match\n'],
      [['history', '--run', id, '--cluster', 'all', '--step', 'attach-remote'], 'no step attempts match\n'],
    ];
    for (const [argv, output] of empty) {
      const result = await runCli([...argv, ...at]);
      expect(result.code, `${argv.join(' ')}: ${result.stderr}`).toBe(0);
      expect(result.stdout).toBe(output);
    }
    const some = await runCli(['logs', id, '--cluster', 'all', '--step', 'preflight', ...at]);
    expect(some.code).toBe(0);
    expect(some.stdout).toContain('==> preflight #1');
    expect(some.stdout).not.toContain('@cluster');
  });
});

describe('typos', () => {
  it('name the nearest verb, subcommand or option in one line, with where --help lists them; exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['instal'], `unknown command 'instal' (did you mean install?); "mesh-run --help" lists the commands`],
      [['stauts'], `unknown command 'stauts' (did you mean status?); "mesh-run --help" lists the commands`],
      [['cluster', 'ad'], `unknown command 'ad' (did you mean cluster add?); "mesh-run cluster --help" lists the commands`],
      [['mesh', 'shwo', 'x'], `unknown command 'shwo' (did you mean mesh show?); "mesh-run mesh --help" lists the commands`],
      [['install', '--dryrun'], `unknown option '--dryrun' (did you mean --dry-run?); "mesh-run install --help" lists the options`],
      [['status', 'mr-x', '--wacth'], `unknown option '--wacth' (did you mean --watch?); "mesh-run status --help" lists the options`],
      [['history', '--sotre', 'x'], `unknown option '--sotre' (did you mean --store?); "mesh-run history --help" lists the options`],
      [['install', '--bogus'], `unknown option '--bogus'; "mesh-run install --help" lists the options`],
      [['runs', '-x'], `unknown option '-x'; "mesh-run runs --help" lists the options`],
      [['xyzzy'], `unknown command 'xyzzy'; "mesh-run --help" lists the commands`],
      [
        ['upgrade', 'rollbak', 'mr-x'],
        `too many arguments for 'upgrade'. Expected 0 arguments but got 2 (did you mean upgrade rollback?); "mesh-run upgrade --help" lists its usage`,
      ],
    ];
    for (const [argv, message] of cases) {
      const result = await runCli(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr, argv.join(' ')).toBe(`mesh-run: error: ${message}\n`);
      expect(result.stdout).toBe('');
    }
  });
});

describe('completion', () => {
  const complete = async (...words: string[]) => (await runCli(['__complete', ...words])).stdout.trim().split('\n');

  it('offers verbs, flags, formats, step ids and run ids from the journal', async () => {
    expect(await complete('')).toEqual(expect.arrayContaining(['install', 'resume', 'cancel', 'status', 'completion']));
    expect(await complete('status', '--')).toEqual(expect.arrayContaining(['--output', '--watch', '--db', '--store']));
    expect(await complete('status', id, '-o', '')).toEqual(['text', 'json', 'yaml', 'csv']);
    expect(await complete('resume', id, '--db', db, '--from', '')).toEqual(expect.arrayContaining(['preflight', 'install-remote', 'attach-remote']));
    expect(await complete('status', '--db', db, 'mr-')).toEqual([id]);
    expect(await complete('install', '--config', '')).toEqual([':file']);
    expect(await complete('completion', '')).toEqual(['bash', 'zsh', 'fish']);
    expect(await complete('config', '')).toEqual(['check', 'schema']);
  });

  it("offers what each position takes: meshes, an upgrade to roll back, the run's own slots, the fault specs a run accepts", async () => {
    const dir = join(tmp.dir, 'positions');
    mkdirSync(dir);
    const journal = join(dir, 'journal.db');
    writeFileSync(join(dir, 'mesh.yaml'), 'meshID: blue\nrevision: canary\n');
    const install = runIdFrom(await runCli(['install', '--dry-run', '-c', join(dir, 'mesh.yaml'), '--sim-lb-delay', '0', '-q', '--db', journal]));
    const upgraded = await runCli(['upgrade', '--mesh', 'blue', '--revision', 'canary2', '--inject-failure', 'precheck-upgrade', '-q', '--db', journal]);
    expect(upgraded.code, upgraded.stderr).toBe(1);
    const upgrade = runIdFrom(upgraded);
    // The verb (and subcommand), the journal, then what was typed after them.
    const at = (verb: string[], ...rest: string[]) => complete(...verb, '--db', journal, ...rest);

    // Mesh positions and --mesh take mesh names, never run ids.
    expect(await at(['mesh', 'show'], '')).toEqual(['blue']);
    for (const verb of [['verify'], ['uninstall'], ['upgrade'], ['secrets', 'rotate'], ['secrets', 'audit'], ['cluster', 'add'], ['plan']])
      expect(await at(verb, '--mesh', ''), verb.join(' ')).toEqual(['blue']);
    // upgrade's subcommand, then an upgrade run (not the install) to roll back.
    expect(await complete('upgrade', '')).toEqual(['rollback']);
    expect(await at(['upgrade', 'rollback'], '')).toEqual([upgrade]);
    expect(await at(['upgrade'], '--mesh', 'blue', '--')).toEqual(expect.arrayContaining(['--revision', '--inject-failure']));
    // --from after resume <id>: that run's steps and slots, not every step id there is.
    expect(await at(['resume'], install, '--from', '')).toEqual([
      'preflight',
      'install-primary',
      'install-primary@cluster1',
      'install-eastwest-gateway',
      'install-eastwest-gateway@cluster1',
      'await-gateway-address',
      'await-gateway-address@cluster1',
      'expose-istiod',
      'expose-istiod@cluster1',
      'create-remote-namespace',
      'create-remote-namespace@cluster2',
      'annotate-remote-namespace',
      'annotate-remote-namespace@cluster2',
      'install-remote',
      'install-remote@cluster2',
      'attach-remote',
      'attach-remote@cluster2',
    ]);
    expect(await at(['resume'], upgrade, '--from', '')).toEqual(expect.arrayContaining(['precheck-upgrade', 'install-revision@cluster1', 'flip-tag@cluster2']));
    expect(await at(['resume'], upgrade, '--from', '')).not.toContain('install-remote');
    // logs <id> filters: that run's steps and clusters.
    expect(await at(['logs'], install, '--cluster', '')).toEqual(['cluster1', 'cluster2', 'all']);
    expect(await at(['logs'], install, '--step', '')).not.toContain('exchange-secret');
    expect(await at(['history'], '--run', install, '--step', '')).toContain('attach-remote');
    // --inject-failure: the step[@cluster] forms of the run the verb would start, on its mesh.
    expect(await at(['install'], '-c', join(dir, 'mesh.yaml'), '--inject-failure', '')).toEqual(
      expect.arrayContaining(['preflight', 'install-remote', 'install-remote@cluster2', 'attach-remote@cluster2']),
    );
    expect(await at(['verify'], '--mesh', 'blue', '--inject-failure', '')).toEqual(
      expect.arrayContaining(['check-traffic@cluster2', 'check-injector-ca@cluster2']),
    );
    expect(await at(['upgrade'], '--mesh', 'blue', '--inject-failure', '')).toEqual(expect.arrayContaining(['install-revision@cluster1', 'await-wave@wave-1']));
    expect(await at(['upgrade', 'rollback'], upgrade, '--inject-failure', '')).toEqual(expect.arrayContaining(['restore-tag@cluster1', 'remove-new-revision']));
    expect(await at(['cluster', 'add'], '--mesh', 'blue', '--name', 'c3', '--inject-failure', '')).toEqual(expect.arrayContaining(['install-remote@c3']));
    expect(await at(['cluster', 'remove'], '--mesh', 'blue', '--name', '')).toEqual(['cluster1', 'cluster2']);
    expect(await at(['cluster', 'add'], '--mesh', 'blue', '--control-plane', '')).toEqual(['cluster1']);
    // store copy's --from is a store (a file), not a step.
    expect(await complete('store', 'copy', '--from', '')).toEqual([':file']);
  });

  it.each(['bash', 'zsh', 'fish'])('the %s script parses (where that shell is installed)', async (shell) => {
    const script = await runCli(['completion', shell]);
    expect(script.code).toBe(0);
    const have = spawnSync(shell, ['-c', 'true']).status === 0;
    if (!have) {
      expect(script.stdout).toContain('__complete');
      return;
    }
    const file = join(tmp.dir, `completion.${shell}`);
    writeFileSync(file, script.stdout);
    const checked = spawnSync(shell, shell === 'fish' ? ['--no-execute', file] : ['-n', file], { encoding: 'utf8' });
    expect(checked.status, checked.stderr).toBe(0);
  });

  it.runIf(spawnSync('tmux', ['-V']).status === 0)(
    'completes a run id in a real bash session (tmux)',
    async () => {
      const bin = join(tmp.dir, 'bin');
      mkdirSync(bin, { recursive: true });
      writeFileSync(join(bin, 'mesh-run'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
      chmodSync(join(bin, 'mesh-run'), 0o755);
      const rc = join(tmp.dir, 'bashrc');
      writeFileSync(rc, `export PATH="${bin}:$PATH" MESH_RUN_DB="${db}" PS1='$ '\neval "$(mesh-run completion bash)"\n`);
      const session = `mesh-run-completion-${process.pid}`;
      const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8' });
      tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '20', `bash --noprofile --rcfile ${rc} -i`);
      try {
        await new Promise((r) => setTimeout(r, 800));
        tmux('send-keys', '-t', session, `mesh-run status ${id.slice(0, 5)}`, 'Tab');
        let screen = '';
        for (let i = 0; i < 50 && !screen.includes(`mesh-run status ${id}`); i++) {
          await new Promise((r) => setTimeout(r, 200));
          screen = tmux('capture-pane', '-p', '-t', session).stdout;
        }
        expect(screen).toContain(`mesh-run status ${id}`);
      } finally {
        tmux('kill-session', '-t', session);
      }
    },
    30_000,
  );
});
