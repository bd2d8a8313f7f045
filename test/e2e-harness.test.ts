// The e2e harness's shell functions (test/e2e/harness/lib.sh), run against stand-in commands: it acts only on
// what it started (several harnesses may share a machine), and it says "ready" only when the nodes are.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/cli.js';

const tmp = tempDir();
const started: ChildProcess[] = [];
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  tmp.cleanup();
});
const HARNESS = new URL('./e2e/harness/', import.meta.url).pathname;

// Runs `script` in bash with lib.sh sourced and `bin` first on PATH.
function harness(script: string, bin: string, env: Record<string, string> = {}) {
  return spawnSync('bash', ['-c', `set -uo pipefail; source '${HARNESS}lib.sh'; ${script}`], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...env },
  });
}

// A stand-in command that appends its name and arguments to `calls`, then runs `body`.
function standIn(bin: string, name: string, calls: string, body = 'exit 0'): void {
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, name), `#!/usr/bin/env bash\necho "${name} $*" >> '${calls}'\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

describe('the e2e harness stops only what it started', () => {
  it('no harness script signals a process by its name (pkill, killall): another harness on the machine runs the same binaries', () => {
    for (const script of ['up.sh', 'down.sh', 'lib.sh']) {
      const code = readFileSync(join(HARNESS, script), 'utf8')
        .split('\n')
        .filter((line) => !line.trim().startsWith('#'));
      expect(
        code.filter((line) => /\b(pkill|killall)\b/.test(line)),
        script,
      ).toEqual([]);
    }
  });

  it("installs etcd-server with Debian's service kept from starting (policy-rc.d), and signals nothing", () => {
    const dir = join(tmp.dir, 'etcd');
    const bin = join(dir, 'bin');
    const calls = join(dir, 'calls');
    const policy = join(dir, 'policy-rc.d');
    // apt-get notes whether a policy refusing every start is in place while it installs.
    standIn(bin, 'apt-get', calls, `[ -x '${policy}' ] && '${policy}' etcd start; echo "policy says $?" >> '${calls}'`);
    for (const name of ['pkill', 'killall', 'kill', 'systemctl', 'service']) standIn(bin, name, calls);
    const result = harness('install_etcd_server', bin, { POLICY_RC_D: policy });
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual([
      'apt-get -o DPkg::Lock::Timeout=300 update -qq',
      'policy says 101',
      'apt-get -o DPkg::Lock::Timeout=300 install -y -qq etcd-server',
      'policy says 101',
    ]);
    expect(existsSync(policy), 'the policy it added is gone again').toBe(false);

    // A policy already there (a container image's) is the machine's: used, and left exactly as it was.
    writeFileSync(policy, '#!/bin/sh\n# the image ships this\nexit 101\n');
    chmodSync(policy, 0o755);
    writeFileSync(calls, '');
    expect(harness('install_etcd_server', bin, { POLICY_RC_D: policy }).status).toBe(0);
    expect(readFileSync(policy, 'utf8')).toBe('#!/bin/sh\n# the image ships this\nexit 101\n');
    expect(readFileSync(calls, 'utf8')).not.toMatch(/^(pkill|killall|kill|systemctl|service) /m);
  });

  it("stops a pid file's process only while it is still this harness's (its command line names this state directory)", async () => {
    const state = join(tmp.dir, 'mesh-run-e2e');
    const other = join(tmp.dir, 'mesh-run-e2e-2'); // another harness: a name that starts like ours
    mkdirSync(state, { recursive: true });
    mkdirSync(other, { recursive: true });
    const run = (marker: string) => {
      // A process whose command line carries `marker`, as etcd's carries its --data-dir.
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', marker], { stdio: 'ignore' });
      started.push(child);
      return child;
    };
    const ours = run(join(state, 'kwok', 'etcd'));
    const theirs = run(join(other, 'kwok', 'etcd'));
    const stranger = run('/var/lib/etcd');
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const [name, child] of [
      ['ours', ours],
      ['theirs', theirs],
      ['stranger', stranger],
    ] as const)
      writeFileSync(join(state, `${name}.pid`), `${child.pid}\n`);
    const exited = (child: ChildProcess) => new Promise((resolve) => child.once('exit', (_, signal) => resolve(signal)));
    const oursExit = exited(ours);
    const stop = (names: string[]) => harness(names.map((n) => `stop_pid_file '${join(state, `${n}.pid`)}' '${state}'`).join('; '), join(tmp.dir, 'no-bin'));
    expect(stop(['ours', 'theirs', 'stranger']).status).toBe(0);
    expect(await oursExit).toBe('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(theirs.exitCode === null && theirs.signalCode === null, "another harness's etcd").toBe(true);
    expect(stranger.exitCode === null && stranger.signalCode === null, "the machine's etcd").toBe(true);
    // A pid file whose process is gone, or an empty one: nothing to do, no error.
    writeFileSync(join(state, 'empty.pid'), '');
    expect(stop(['ours', 'empty', 'missing']).status).toBe(0);
  });
});

describe('the e2e harness says ready only when the nodes are', () => {
  it("fails when a cluster's nodes stay NotReady, with each node's condition and the kwok controller's last words", () => {
    const dir = join(tmp.dir, 'nodes');
    const bin = join(dir, 'bin');
    const calls = join(dir, 'calls');
    standIn(
      bin,
      'kubectl',
      calls,
      `case "$*" in
  *" wait "*) echo 'error: timed out waiting for the condition on nodes/cluster1-node-0' >&2; exit 1 ;;
  *" get nodes "*) printf '  cluster1-node-0: Ready=Unknown Kubelet stopped posting node status.\\n  cluster1-node-1: Ready=Unknown Kubelet stopped posting node status.\\n' ;;
esac`,
    );
    const log = join(dir, 'kwok-controller.log');
    writeFileSync(log, 'I starting kwok controller\nE failed to serve: listen tcp 127.0.0.1:10247: bind: address already in use\n');
    const failed = harness(`await_nodes_ready cluster1 5 '${log}'`, bin);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('e2e-up: cluster1: not every node is Ready after 5s:');
    expect(failed.stderr).toContain('cluster1-node-0: Ready=Unknown Kubelet stopped posting node status.');
    expect(failed.stderr).toContain(`the kwok controller (${log}) last said:`);
    expect(failed.stderr).toContain('listen tcp 127.0.0.1:10247: bind: address already in use');
    expect(readFileSync(calls, 'utf8')).toContain('kubectl --context cluster1 wait --for=condition=Ready node --all --timeout=5s');

    writeFileSync(join(bin, 'kubectl'), '#!/usr/bin/env bash\nexit 0\n');
    const ready = harness(`await_nodes_ready cluster1 5 '${log}'`, bin);
    expect(ready.status).toBe(0);
    expect(ready.stderr).toBe('');
  });

  it('up.sh waits for Ready nodes before it says a cluster is up, also for a cluster that was up already', () => {
    const up = readFileSync(join(HARNESS, 'up.sh'), 'utf8');
    const awaits = up.split('\n').filter((line) => /^\s*await_nodes_ready /.test(line));
    expect(awaits).toHaveLength(2);
    expect(up.indexOf('await_nodes_ready')).toBeLessThan(up.indexOf('is already up'));
    expect(up.lastIndexOf('await_nodes_ready')).toBeLessThan(up.indexOf('up in $(('));
  });
});
