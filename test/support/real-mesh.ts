// A mesh of real clusters recorded in a journal, for tests of what day-2 verbs do with one (rehearse it with
// --dry-run, refuse without real tools).
export const PROD =
  'meshID: prod\nclusters:\n  - {name: east, context: ctx-east, role: primary}\n  - {name: west, context: ctx-west, role: remote}\ntools: {kubectl: /nonexistent/kubectl, istioctl: /nonexistent/istioctl}\n';

// A mesh of real clusters as the journal records it, without the clusters: its tools point nowhere, so any
// real command would fail loudly.
export async function recordRealMesh(db: string, configText: string): Promise<string> {
  const { openStore } = await import('../../engine/composition.js');
  const { parseConfigText } = await import('../../engine/config/mesh-config.js');
  const { leaseFor } = await import('../../engine/runtime/run-driver.js');
  const { workflowOf } = await import('../../engine/kinds/workflows.js');
  const { parseStoreLocation } = await import('../../store/location.js');
  const store = await openStore(parseStoreLocation(db, 'test'), 'create');
  try {
    const config = parseConfigText(configText, {}, 'prod.yaml');
    const actor = { user: 'test', host: 'test', pid: 1 };
    const now = Date.now();
    const id = 'mr-realprod1';
    const claim = { lease: leaseFor(actor, 'token', now), keys: ['context:ctx-east', 'context:ctx-west'], staleAfterMs: 1000, isAlive: () => false };
    await store.runs.createRun(
      {
        id,
        kind: 'install',
        topology: 'primary-remote',
        mode: 'real',
        config,
        configHash: 'h',
        configPath: null,
        createdAt: now,
        machineVersion: workflowOf('install').version,
      },
      actor,
      claim,
    );
    await store.runs.endRun(id, 'token', 'succeeded', actor, now + 1, null);
    return id;
  } finally {
    await store.close();
  }
}
