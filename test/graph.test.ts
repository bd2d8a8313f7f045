import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INSTALL_STEP_IDS } from '../machines/steps.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('mesh-run graph', () => {
  it('draws every step, the guards on their edges and the per-cluster children, from the machine itself', async () => {
    const out = (await runCli(['graph'])).stdout;
    expect(out.startsWith('stateDiagram-v2\n')).toBe(true);
    for (const step of INSTALL_STEP_IDS) expect(out).toContain(`state "${step}"`);
    expect(out).toContain(': [gatewayIpReady]');
    expect(out).toContain(': [gatewayHostnameOnly]');
    expect(out).toContain(': [gatewayDeadlinePassed]');
    // The remote waits on what it was told (the address), not on the gateway itself.
    expect(out).toContain('[discoveryAddressKnown ∧ remoteNamespaceAnnotated]');
    expect(out).toContain('each primary (one child machine per primary)');
    expect(out).toContain('each remote (one child machine per remote)');
    // What the mesh's shape decides, as guards: e.g. only multi-network meshes label istio-system.
    expect(out).toContain(': [labelsNetwork]');
    expect(out).toContain(': [secretHoldersInstalled]');
    expect(out).toMatch(/\n\s+--\n/);
    expect(out).toContain('error / RETRY');
  });

  it('emits DOT with clusters for composite states', async () => {
    const out = (await runCli(['graph', '--format', 'dot'])).stdout;
    expect(out.startsWith('digraph mesh_run {')).toBe(true);
    expect(out).toContain('subgraph "cluster_install.installing" {');
    expect(out).toContain('(parallel)');
    expect(out.trim().endsWith('}')).toBe(true);
    expect(out.match(/\{/g)?.length).toBe(out.match(/\}/g)?.length);
  });

  it("marks a failed run's completed, failed and pending steps", async () => {
    const db = join(tmp.dir, 'g.db');
    const id = runIdFrom(await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '--inject-failure', 'install-eastwest-gateway', '-q', '--db', db]));
    const out = (await runCli(['graph', '--run', id, '--db', db])).stdout;
    expect(out).toContain('class install_preflight done');
    expect(out).toContain('class each1_primary_installEastwestGateway failed');
    expect(out).toContain('class each2_remote_annotateRemoteNamespace done');
    expect(out).not.toMatch(/class each2_remote_installRemote/);
  });
});
