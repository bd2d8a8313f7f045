import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './support/cli.js';
import { writeFakeTools } from './support/fake-tools.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('preflight against real tools, before a run is recorded', () => {
  it('refuses a remote whose kubeconfig API server is loopback, unless the config names one (exit 3, nothing written)', async () => {
    const tools = writeFakeTools(tmp.dir, 'unused-marker', 'https://127.0.0.1:6443');
    const config = join(tmp.dir, 'loopback.yaml');
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const db = join(tmp.dir, 'loopback.db');
    const result = await runCli(['install', '--config', config, '--db', db]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("the kubeconfig gives cluster2's API server as https://127.0.0.1:6443");
    expect(result.stderr).toContain('set remotes[0].apiServer');
    expect(existsSync(db)).toBe(false);
  });

  it('refuses an istioctl older than 1.15', async () => {
    const tools = writeFakeTools(tmp.dir, 'unused-marker');
    writeFileSync(tools.istioctl, '#!/usr/bin/env bash\necho \'{"clientVersion":{"version":"1.14.6"}}\'\n');
    const config = join(tmp.dir, 'old.yaml');
    writeFileSync(config, `tools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const result = await runCli(['install', '--config', config, '--db', join(tmp.dir, 'old.db')]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('istioctl 1.14.6 is too old: this flow needs istioctl 1.15 or newer');
  });

  it('names missing contexts and lists the ones the kubeconfig has', async () => {
    const tools = writeFakeTools(tmp.dir, 'unused-marker');
    const config = join(tmp.dir, 'ctx.yaml');
    writeFileSync(config, `primary: {context: east}\ntools: {kubectl: ${tools.kubectl}, istioctl: ${tools.istioctl}}\n`);
    const result = await runCli(['install', '--config', config, '--db', join(tmp.dir, 'ctx.db')]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('kube context "east" (cluster cluster1) not found in the kubeconfig (it has: cluster1, cluster2)');
  });
});
