// mesh adopt against real Kubernetes control planes (kwok) with a real istioctl and real istiods: a mesh built
// with Istio's pages' commands by a bash script (no mesh-run) is adopted, unchanged, as the spec those commands
// imply; then the day-2 verbs work on it, uninstall refuses it naming what it would delete, and --force
// removes it naming each object. Leaves every harness cluster without Istio, as it found them.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runIdFrom, tempDir } from '../support/cli.js';
import { readJournal } from '../support/journal.js';
import { findLeak, needlesFor } from '../support/token-scan.js';
import { buildByHand, istioLeft, MULTI_PRIMARY_MULTI_NETWORK, PRIMARY_REMOTE, removeIstioEverywhere } from './by-hand.js';
import { answers, apiServerOf, env, harnessClusters, istioctlPath, kubectl, kubectlJson, remoteClusters, setLoadBalancer, tokenIn } from './support.js';

const tmp = tempDir('mesh-run-e2e-adopt-');
const db = join(tmp.dir, 'adopt.db');
const outputs: string[] = [];
const tokens: string[] = [];

async function cli(args: string[], options: { transcript?: boolean } = {}) {
  const result = await runCli([...args, '--db', db], { env });
  outputs.push(result.stdout, result.stderr);
  // The transcript the closing note quotes.
  if (options.transcript) console.log(`$ mesh-run ${args.join(' ')}\n${result.stdout}${result.stderr}(exit ${result.code})`);
  return result;
}

// The kinds a person's commands and istioctl create, each object by name and resourceVersion (which any change
// to it moves): in istio-system, Istio's cluster-wide ones, and every namespace with its labels and its control
// plane annotation. Events and leases are left out, and so are istiod's leader-election ConfigMaps: the
// harness's real istiods and the controllers write them all the time. One kubectl per cluster, printed by
// jsonpath: Istio's CRDs as JSON are megabytes, and no secret's data or annotation is read.
const KINDS = [
  'namespaces',
  'deployments',
  'services',
  'configmaps',
  'secrets',
  'serviceaccounts',
  'roles',
  'rolebindings',
  'poddisruptionbudgets',
  'gateways.networking.istio.io',
  'virtualservices.networking.istio.io',
  'customresourcedefinitions',
  'mutatingwebhookconfigurations',
  'validatingwebhookconfigurations',
  'clusterroles',
  'clusterrolebindings',
].join(',');
const FIELDS = [
  '{.kind}/{.metadata.namespace}/{.metadata.name}@{.metadata.resourceVersion}',
  ' labels={.metadata.labels} controlPlaneClusters={.metadata.annotations.topology\\.istio\\.io/controlPlaneClusters}',
  '\t{.metadata.annotations.control-plane\\.alpha\\.kubernetes\\.io/leader}',
].join('');

function istioObjects(context: string): string[] {
  return kubectl(context, ['get', KINDS, '-n', 'istio-system', '-o', `jsonpath={range .items[*]}${FIELDS}{"\\n"}{end}`])
    .split('\n')
    .filter((line) => line.endsWith('\t'))
    .map((line) => line.slice(0, -1))
    .filter((o) => o.startsWith('Namespace/') || o.includes('/istio-system/') || o.includes('istio'))
    .sort();
}

// Every cluster's objects once the mesh has settled (two looks 1.5 s apart agree): what an adoption must not change.
async function settledObjects(contexts: string[]): Promise<Record<string, string[]>> {
  const look = () => Object.fromEntries(contexts.map((c) => [c, istioObjects(c)]));
  let before = look();
  for (let i = 0; i < 15; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const now = look();
    if (JSON.stringify(now) === JSON.stringify(before)) return now;
    // What moved, for a reader of a slow or failed run.
    const moved = contexts.flatMap((c) => (now[c] ?? []).filter((o) => !(before[c] ?? []).includes(o)).map((o) => `${c}: ${o}`));
    console.log(`not settled yet:\n  ${moved.join('\n  ')}`);
    before = now;
  }
  throw new Error(`the Istio objects kept changing:\n${JSON.stringify(before, null, 1)}`);
}

// The objects named for `cluster` on a "cluster1: a, b, c" line of mesh-run's output.
function namedFor(text: string, cluster: string): string[] {
  const line = new RegExp(`(?:^|: )${cluster}: ((?:[a-z]+/[\\w.-]+)(?:, [a-z]+/[\\w.-]+)*)`, 'm').exec(text);
  return line?.[1]?.split(', ') ?? [];
}

// What an uninstall --force must name on a cluster: istio-system, Istio's CRDs and webhook configurations.
function mustName(objects: string[]): string[] {
  const shorter: Record<string, string> = {
    CustomResourceDefinition: 'crd',
    MutatingWebhookConfiguration: 'mutatingwebhookconfiguration',
    ValidatingWebhookConfiguration: 'validatingwebhookconfiguration',
  };
  return objects.flatMap((o) => {
    if (o.startsWith('Namespace//istio-system@')) return ['namespace/istio-system'];
    const [, kind = '', name = ''] = /^(\w+)\/\/([^@]+)@/.exec(o) ?? [];
    return shorter[kind] && (kind !== 'CustomResourceDefinition' || name.endsWith('.istio.io')) ? [`${shorter[kind]}/${name}`] : [];
  });
}

const stepsOf = async (runId: string) => (await readJournal(db, runId)).attempts.map((a) => `${a.step}@${a.cluster}:${a.outcome}`);

// The verbs that change a cluster: an adoption issues none of them.
const CHANGING = /^(apply|create|delete|label|annotate|patch|replace|install|uninstall|tag|rollout|scale|set|create-remote-secret)$/;

beforeAll(() => {
  setLoadBalancer('ip 0');
  // As the install suite leaves it (and as a user's kubeconfig may be): a namespace on the current context.
  kubectl('cluster1', ['config', 'set-context', 'cluster1', '--namespace=default']);
  removeIstioEverywhere(tmp.dir);
});
afterAll(() => {
  try {
    removeIstioEverywhere(tmp.dir);
  } finally {
    tmp.cleanup();
  }
});

describe('mesh adopt of a primary-remote mesh built with the page’s commands', () => {
  const dir = join(tmp.dir, 'primary-remote');
  const config = join(dir, 'mesh.yaml');
  let adoption = '';
  let before: Record<string, string[]> = {};

  it('adopts it: exit 0, the spec the commands imply, nothing on the clusters changed', async () => {
    mkdirSync(dir, { recursive: true });
    const built = buildByHand(dir, 'primary-remote', PRIMARY_REMOTE, 'adopt-pr');
    outputs.push(built);
    expect(built).toContain('secret/istio-remote-secret-cluster2 created');
    tokens.push(tokenIn('cluster1', 'cluster2'));
    // The clusters and how to reach them; the roles, networks and meshID are read from the clusters.
    writeFileSync(
      config,
      [
        'clusters:',
        '  - {name: cluster1, context: cluster1, role: primary}',
        `  - {name: cluster2, context: cluster2, role: remote, apiServer: "${apiServerOf('cluster2')}"}`,
        'timeouts: {gatewayAddress: 90s, command: 4m}',
        `tools: {istioctl: ${istioctlPath()}}`,
        '',
      ].join('\n'),
    );
    before = await settledObjects(['cluster1', 'cluster2']);

    const adopted = await cli(['mesh', 'adopt', '--name', 'adopt-pr', '-c', config], { transcript: true });
    expect(adopted.code, adopted.stderr).toBe(0);
    adoption = runIdFrom(adopted);
    expect(adopted.stdout).toMatch(/^cluster1 +cluster1 +primary +network1 +adopt-pr /m);
    expect(adopted.stdout).toMatch(/^cluster2 +cluster2 +remote +cluster1 +network1 /m);
    const journal = await readJournal(db, adoption);
    expect(journal.run).toMatchObject({ kind: 'adopt', status: 'succeeded', mode: 'real', topology: 'primary-remote' });
    const recorded = journal.run.config;
    expect({ meshID: recorded?.meshID, revision: recorded?.revision, clusters: recorded?.clusters }).toEqual({
      meshID: 'adopt-pr',
      revision: undefined,
      clusters: [
        { name: 'cluster1', context: 'cluster1', role: 'primary', network: 'network1' },
        { name: 'cluster2', context: 'cluster2', role: 'remote', network: 'network1', controlPlane: 'cluster1', apiServer: apiServerOf('cluster2') },
      ],
    });
    expect(recorded?.tools.istioctl).toBe(istioctlPath());
    expect(journal.attempts.map((a) => `${a.step}@${a.cluster}:${a.outcome}`).sort()).toEqual([
      'record-existing@cluster1:succeeded',
      'record-existing@cluster2:succeeded',
    ]);
    // Read only: kubectl get and nothing else, and every object as it was, down to its resourceVersion.
    const verbs = journal.commands.map((c) => c.argv.find((a, i) => i > 0 && !a.startsWith('-')) ?? '');
    expect(verbs.filter((v) => CHANGING.test(v))).toEqual([]);
    expect(await settledObjects(['cluster1', 'cluster2'])).toEqual(before);
  });

  it('verify: the control-plane checks pass on the real istiod; the data-plane ones cannot on kwok', async () => {
    const verified = await cli(['verify', '--mesh', 'adopt-pr']);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/failed at deploy-sample@cluster[12]: the data-plane checks cannot pass on cluster[12]: its 2 nodes are simulated by kwok/);
    const steps = await stepsOf(runIdFrom(verified));
    expect(steps).toEqual(expect.arrayContaining(['check-remote-clusters@cluster1:succeeded', 'check-injector-ca@cluster2:succeeded']));
  });

  it('secrets rotate: new tokens on cluster1, the real istiod synced; the page’s token is kept valid, mesh-run’s own is revoked', async () => {
    const old = tokenIn('cluster1', 'cluster2');
    expect(answers('cluster2', old)).toBe('accepted');
    const rotated = await cli(['secrets', 'rotate', '--mesh', 'adopt-pr']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).not.toContain('istiod sync not checked');
    const fresh = tokenIn('cluster1', 'cluster2');
    tokens.push(fresh);
    expect(fresh).not.toBe(old);
    expect(answers('cluster2', fresh)).toBe('accepted');
    const steps = ['preflight@*', 'mint-token@cluster2', 'swap-secret@cluster2', 'await-synced@cluster2', 'revoke-token@cluster2'].map((s) => `${s}:succeeded`);
    expect(await stepsOf(runIdFrom(rotated))).toEqual(steps);
    // The token secret create-remote-secret made for the page was there before mesh-run: another reader may hold
    // its token, so it stays valid, and the run says how to revoke it.
    const events = (await readJournal(db, runIdFrom(rotated))).events;
    expect(rotated.stdout).toContain('but one old token stays valid, as its secret was there before mesh-run');
    expect(events.filter((e) => e.type === 'kept-valid').map((e) => e.detail)).toEqual([
      expect.stringMatching(
        /^secret istio-reader-service-account-istio-remote-secret-token on cluster2 \(old token [0-9a-f]{12}\) was there before mesh-run, so its token stays valid; .*kubectl --context cluster2 -n istio-system delete secret istio-reader-service-account-istio-remote-secret-token$/,
      ),
    ]);
    expect(answers('cluster2', old)).toBe('accepted');
    // Made as the page made it: to the address the config names, not the kubeconfig's (loopback) one.
    const kubeconfig = Buffer.from(
      kubectl('cluster1', ['-n', 'istio-system', 'get', 'secret', 'istio-remote-secret-cluster2', '-o', 'jsonpath={.data.cluster2}']),
      'base64',
    ).toString('utf8');
    expect(kubeconfig).toContain(`server: ${apiServerOf('cluster2')}`);

    // The token mesh-run minted is mesh-run's: the next rotation deletes its secret and sees the API server refuse it.
    const again = await cli(['secrets', 'rotate', '--mesh', 'adopt-pr']);
    expect(again.code, again.stderr).toBe(0);
    const newest = tokenIn('cluster1', 'cluster2');
    tokens.push(newest);
    expect(await stepsOf(runIdFrom(again))).toEqual(steps);
    expect(answers('cluster2', fresh)).toBe('refused');
    expect(answers('cluster2', newest)).toBe('accepted');
    expect((await readJournal(db, runIdFrom(again))).events.map((e) => e.detail ?? '').join('\n')).toMatch(
      /old token [0-9a-f]{12} \(secret istio-reader-service-account-token-\w+\) deleted on cluster2; its API server refuses it/,
    );
  });

  it('cluster add: cluster3 joins as a remote of cluster1, and its real istiod reads it', async () => {
    expect(harnessClusters().map((c) => c.name)).toContain('cluster3');
    const added = await cli(['cluster', 'add', '--mesh', 'adopt-pr', '--name', 'cluster3', '--context', 'cluster3', '--api-server', apiServerOf('cluster3')]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('cluster3 joined mesh adopt-pr: primary-remote: 1 primary, 2 remotes, 1 network');
    // The members' Istio is the adopted mesh's: no warning that cluster1 runs an Istio mesh-run did not install.
    expect(added.stderr).not.toContain('already runs an Istio');
    const ns = kubectlJson<{ metadata: { annotations: Record<string, string> } }>('cluster3', ['get', 'namespace', 'istio-system']);
    expect(ns.metadata.annotations['topology.istio.io/controlPlaneClusters']).toBe('cluster1');
    tokens.push(tokenIn('cluster1', 'cluster3'));
    let clusters = '';
    for (let i = 0; i < 30 && !/^cluster3\s+\S+\s+synced/m.test(clusters); i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      clusters = remoteClusters('cluster1');
    }
    expect(clusters).toMatch(/^cluster3\s+istio-system\/istio-remote-secret-cluster3\s+synced/m);
    expect(clusters).toMatch(/^cluster2\s+istio-system\/istio-remote-secret-cluster2\s+synced/m);
  });

  it('uninstall refuses the adopted mesh (exit 3), naming what it would delete on the clusters it did not install', async () => {
    const now = await settledObjects(['cluster1', 'cluster2', 'cluster3']);
    const refused = await cli(['uninstall', '--mesh', 'adopt-pr', '--yes'], { transcript: true });
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain(`mesh adopt-pr was adopted (run ${adoption}), not installed by mesh-run`);
    expect(refused.stderr).toContain('--force');
    for (const cluster of ['cluster1', 'cluster2']) {
      expect(mustName(before[cluster] ?? []), cluster).toContain('namespace/istio-system');
      expect(namedFor(refused.stderr, cluster), cluster).toEqual(expect.arrayContaining(mustName(before[cluster] ?? [])));
    }
    expect(mustName(before.cluster1 ?? [])).toContain('mutatingwebhookconfiguration/istio-sidecar-injector');
    // mesh-run installed cluster3's Istio: nothing of it is the adopted mesh's.
    expect(namedFor(refused.stderr, 'cluster3')).toEqual([]);
    expect(await settledObjects(['cluster1', 'cluster2', 'cluster3'])).toEqual(now);
  });

  it('uninstall --force removes it, naming every object it deletes, and leaves no Istio on any cluster', async () => {
    const forced = await cli(['uninstall', '--mesh', 'adopt-pr', '--force', '--yes']);
    expect(forced.code, forced.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(forced));
    const named = journal.events.filter((e) => e.type === 'deleted-preexisting').map((e) => e.detail ?? '');
    for (const cluster of ['cluster1', 'cluster2']) {
      const listed = named.map((d) => /deleting what (cluster\d) ran before mesh-run adopted it: (.+)$/.exec(d)).find((m) => m?.[1] === cluster)?.[2] ?? '';
      expect(listed.split(', '), cluster).toEqual(expect.arrayContaining(mustName(before[cluster] ?? [])));
    }
    expect(named.filter((d) => d.includes('cluster3'))).toEqual([]);
    for (const context of ['cluster1', 'cluster2', 'cluster3']) expect(istioLeft(context), context).toEqual([]);
  });
});

describe('mesh adopt of a multi-primary multi-network mesh built with the page’s commands', () => {
  const dir = join(tmp.dir, 'multi-primary');
  const config = join(dir, 'mesh.yaml');
  const certs = join(dir, 'certs');
  // A failed primary-remote test may have left its mesh: the page's commands start from clusters without Istio.
  beforeAll(() => removeIstioEverywhere(tmp.dir));

  it('adopts it as two primaries on their networks under the root the page plugged in, changing nothing', async () => {
    mkdirSync(dir, { recursive: true });
    const built = buildByHand(dir, 'multi-primary-multi-network', MULTI_PRIMARY_MULTI_NETWORK, 'adopt-mp');
    outputs.push(built);
    tokens.push(tokenIn('cluster1', 'cluster2'), tokenIn('cluster2', 'cluster1'));
    writeFileSync(
      config,
      [
        'clusters:',
        `  - {name: cluster1, context: cluster1, role: primary, apiServer: "${apiServerOf('cluster1')}"}`,
        `  - {name: cluster2, context: cluster2, role: primary, apiServer: "${apiServerOf('cluster2')}"}`,
        `trust: {caDir: "${certs}"}`,
        'timeouts: {gatewayAddress: 90s, command: 4m}',
        `tools: {istioctl: ${istioctlPath()}}`,
        '',
      ].join('\n'),
    );
    const before = await settledObjects(['cluster1', 'cluster2']);
    const adopted = await cli(['mesh', 'adopt', '--name', 'adopt-mp', '-c', config]);
    expect(adopted.code, adopted.stderr).toBe(0);
    const journal = await readJournal(db, runIdFrom(adopted));
    expect(journal.run.topology).toBe('multi-primary multi-network');
    expect(journal.run.config?.meshID).toBe('adopt-mp');
    expect(journal.run.config?.clusters).toEqual([
      { name: 'cluster1', context: 'cluster1', role: 'primary', network: 'network1', apiServer: apiServerOf('cluster1') },
      { name: 'cluster2', context: 'cluster2', role: 'primary', network: 'network2', apiServer: apiServerOf('cluster2') },
    ]);
    // The CA files behind the cacerts the page created: kept, so a primary that joins later can be signed.
    expect(journal.run.config?.trust).toEqual({ source: 'files', caDir: certs });
    expect(await settledObjects(['cluster1', 'cluster2'])).toEqual(before);
  });

  it('verify: each real istiod reads the other primary and signs under the plugged-in root; no data plane on kwok', async () => {
    const verified = await cli(['verify', '--mesh', 'adopt-mp']);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/the data-plane checks cannot pass on cluster[12]: its 2 nodes are simulated by kwok/);
    expect(await stepsOf(runIdFrom(verified))).toEqual(
      expect.arrayContaining(['check-remote-clusters@cluster1:succeeded', 'check-remote-clusters@cluster2:succeeded']),
    );
    for (const context of ['cluster1', 'cluster2']) {
      const published = kubectl(context, ['-n', 'istio-system', 'get', 'configmap', 'istio-ca-root-cert', '-o', 'jsonpath={.data.root-cert\\.pem}']);
      expect(published.trim(), context).toBe(readFileSync(join(certs, 'root-cert.pem'), 'utf8').trim());
    }
  });

  it('secrets rotate: both secrets get new tokens and each istiod syncs; the page’s old tokens stay valid, named', async () => {
    const old = [tokenIn('cluster2', 'cluster1'), tokenIn('cluster1', 'cluster2')];
    const rotated = await cli(['secrets', 'rotate', '--mesh', 'adopt-mp']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = [tokenIn('cluster2', 'cluster1'), tokenIn('cluster1', 'cluster2')];
    tokens.push(...fresh);
    const expected = ['cluster1', 'cluster2'].flatMap((c) => ['mint-token', 'swap-secret', 'await-synced', 'revoke-token'].map((s) => `${s}@${c}:succeeded`));
    expect((await stepsOf(runIdFrom(rotated))).sort()).toEqual(['preflight@*:succeeded', ...expected].sort());
    const kept = (await readJournal(db, runIdFrom(rotated))).events.filter((e) => e.type === 'kept-valid').map((e) => e.detail ?? '');
    expect(rotated.stdout).toContain('but 2 old tokens stay valid');
    for (const [i, context] of ['cluster1', 'cluster2'].entries()) {
      expect(fresh[i], context).not.toBe(old[i]);
      expect(answers(context, fresh[i] ?? ''), context).toBe('accepted');
      expect(answers(context, old[i] ?? ''), context).toBe('accepted');
      expect(
        kept.some((d) => d.startsWith(`secret istio-reader-service-account-istio-remote-secret-token on ${context} `)),
        context,
      ).toBe(true);
    }
  });

  it('uninstall --force removes both control planes, naming what each ran before, and leaves no Istio', async () => {
    const forced = await cli(['uninstall', '--mesh', 'adopt-mp', '--force', '--yes']);
    expect(forced.code, forced.stderr).toBe(0);
    const named = (await readJournal(db, runIdFrom(forced))).events.filter((e) => e.type === 'deleted-preexisting').map((e) => e.detail ?? '');
    for (const cluster of ['cluster1', 'cluster2'])
      expect(
        named.some((d) => d.includes(`deleting what ${cluster} ran before mesh-run adopted it: namespace/istio-system`)),
        cluster,
      ).toBe(true);
    for (const context of ['cluster1', 'cluster2']) expect(istioLeft(context), context).toEqual([]);
  });
});

describe('no reader token anywhere', () => {
  it('in any output, the database, or any file the scripts and mesh-run wrote', async () => {
    const runs = JSON.parse((await cli(['runs', '--json'])).stdout) as Array<{ id: string }>;
    await Promise.all(runs.flatMap(({ id }) => [cli(['show', id, '--json']), cli(['logs', id])]));
    expect(tokens.length).toBeGreaterThanOrEqual(8);
    for (const token of tokens) expect(token.length, 'a token read').toBeGreaterThan(100);
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));
    for (const token of tokens) {
      // The signature is what makes a token a credential; its header and claims name public things.
      const needles = needlesFor(token.split('.')[2] ?? token);
      for (const [i, text] of outputs.entries()) expect(findLeak(text, needles), `output ${i}`).toBeUndefined();
      for (const file of files(tmp.dir)) if (existsSync(file)) expect(findLeak(readFileSync(file), needles), file).toBeUndefined();
    }
  });
});
