// The steps of a canary upgrade (istio.io setup/upgrade/canary, carried over to the remotes of a multicluster
// mesh): the new revision beside the old one, its istiod exposed and reading every cluster, the data plane
// moved wave by wave with a gate on each, the gateways and the default tag moved, the old revision removed.
// Every step observes first and acts only where the cluster is not yet as the step leaves it. What a step
// replaces (a namespace's labels, the default tag's target, the gateway's revision) is journaled as an
// observation before it acts: the rollback puts exactly that back.
import type { StepDone, UpgradeStepInput, WaveNamespace, WavePlan } from '../../machines/types.js';
import { StepError } from '../../shared/errors.js';
import { DEFAULT_REVISION } from '../../shared/revisions.js';
import { sleep } from '../../shared/sleep.js';
import { count } from '../../shared/words.js';
import { commandFailed } from './failures.js';
import { type ActivityDeps, exposeIstiodStep, ISTIO_SYSTEM, installPrimary, parseIstioVersion } from './install.js';
import { UPGRADE_SUBJECTS } from './inventory.js';
import { getJson, mustSucceed } from './kube-ops.js';
import {
  asMember,
  defaultTag,
  gatewayRevision,
  gatewaysOf,
  INJECTION,
  installRevisionOn,
  istiodName,
  memberOf,
  type NamespaceItem,
  podsOf,
  podsOnRevision,
  REV,
  relabelAndRestart,
  removeRevision,
  setDefaultTag,
} from './revision-ops.js';
import { syncStatus } from './secrets-audit.js';
import { istioctl, kubectl, type StepRuntime } from './step-runtime.js';
import { NODES_QUERY, SIMULATED_NODE_ANNOTATION, simulatedNodes } from './verify.js';

const POLL_MS = 2_000;
// Istio supports canary upgrades across at most two minor versions (istio.io setup/upgrade/canary).
const MAX_MINOR_SKEW = 2;

function versionOfImage(image: string | undefined): string | undefined {
  return image ? /:(\d+\.\d+[\w.+-]*)$/.exec(image)?.[1] : undefined;
}

function minorOf(version: string | undefined): { major: number; minor: number } | undefined {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

// precheck-upgrade: istioctl x precheck on every cluster, the new istioctl's version against the old
// revision's istiod on every primary (no downgrade, at most two minors), and every cluster synced now.
export async function precheckUpgrade(rt: StepRuntime, input: UpgradeStepInput): Promise<StepDone> {
  const problems: string[] = [];
  for (const m of input.members) {
    const checked = await rt.run(istioctl(m.context, ['x', 'precheck'], 'check'));
    if (checked.exitCode !== 0)
      problems.push(`${m.name}: istioctl x precheck: ${commandFailed('precheck', checked).message.replace(/^precheck failed: /, '')}`);
  }
  const client = await mustSucceed(rt, istioctl(input.members[0]?.context ?? '', ['version', '--remote=false', '-o', 'json'], 'check'), 'istioctl version');
  const newVersion = parseIstioVersion(client.stdout);
  for (const p of input.members.filter((m) => m.role === 'primary')) {
    const istiod = await getJson<{ spec?: { template?: { spec?: { containers?: Array<{ image?: string }> } } } }>(
      rt,
      p.context,
      ['-n', ISTIO_SYSTEM, 'deployment', istiodName(input.from)],
      `deployment ${istiodName(input.from)}`,
      'check',
    );
    if (!istiod) {
      problems.push(`${p.name}: revision ${input.from} has no istiod (deployment ${ISTIO_SYSTEM}/${istiodName(input.from)} is missing)`);
      continue;
    }
    const installed = versionOfImage(istiod.spec?.template?.spec?.containers?.[0]?.image);
    const [a, b] = [minorOf(installed), minorOf(newVersion)];
    if (!a || !b || a.major !== b.major) {
      rt.note(
        `version skew on ${p.name} not compared: revision ${input.from} runs ${installed ?? 'an unknown version'}, the new istioctl is ${newVersion ?? 'unknown'}`,
        'info',
      );
    } else if (b.minor < a.minor) {
      problems.push(`${p.name}: the new istioctl (${newVersion}) is older than revision ${input.from} (${installed}); a canary upgrade does not go backwards`);
    } else if (b.minor - a.minor > MAX_MINOR_SKEW) {
      problems.push(`${p.name}: ${installed} -> ${newVersion} skips more than ${MAX_MINOR_SKEW} minor versions, which Istio's canary upgrade does not support`);
    } else rt.note(`${p.name}: revision ${input.from} runs ${installed}; the new revision gets ${newVersion}`, 'info');
  }
  for (const p of input.members.filter((m) => m.role === 'primary')) {
    const watched = input.members.filter((m) => m.name !== p.name).map((m) => m.name);
    if (watched.length === 0) continue;
    const listed = await rt.run(istioctl(p.context, ['remote-clusters', `--revision=${input.from}`], 'check'));
    if (listed.exitCode !== 0) {
      problems.push(`${p.name}: istioctl remote-clusters: ${commandFailed('remote-clusters', listed).message.replace(/^remote-clusters failed: /, '')}`);
      continue;
    }
    const status = syncStatus(listed.stdout);
    const unsynced = watched.filter((w) => status.get(w) !== 'synced');
    if (unsynced.length > 0) problems.push(`${p.name}: istiod ${input.from} does not report ${unsynced.join(', ')} synced`);
  }
  if (problems.length > 0) {
    throw new StepError(problems.join('\n'), {
      hint: 'an upgrade starts from a healthy mesh: fix these ("mesh-run verify" shows what istiod sees), then resume',
    });
  }
  return { finishedAt: rt.now() };
}

// install-revision: istioctl install of the new revision beside the old one (its own IstioOperator, so the
// old one's objects are not pruned), with the mesh's values; then its istiod's rollout.
export async function installRevision(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<StepDone> {
  return installPrimary(rt, asMember(input, input.to), deps, false);
}

// expose-istiod-revision: the expose-istiod-rev variant (a VirtualService per revision on the shared gateway).
export function exposeIstiodRevision(rt: StepRuntime, input: UpgradeStepInput): Promise<StepDone> {
  return exposeIstiodStep(rt, asMember(input, input.to));
}

// install-remote-revision: the remote profile of the new revision, pointed at its primary's gateway.
export function installRemoteRevision(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<StepDone> {
  return installRevisionOn(rt, input, deps, input.to, false);
}

// await-revision-synced: the gate before any workload moves. The new revision's istiod on this primary reports
// every other cluster synced (the same remote secrets the old one reads).
export async function awaitRevisionSynced(rt: StepRuntime, input: UpgradeStepInput): Promise<StepDone> {
  const member = memberOf(input);
  const watched = input.members.filter((m) => m.name !== member.name).map((m) => m.name);
  const deadline = rt.now() + input.gateTimeoutMs;
  for (;;) {
    const listed = await rt.run({ ...istioctl(member.context, ['remote-clusters', `--revision=${input.to}`], 'check'), expectation: 'every cluster synced' });
    if (listed.exitCode !== 0 && !/unable to find any Istiod/i.test(listed.stderr)) throw commandFailed(`istioctl remote-clusters on ${member.name}`, listed);
    const status = syncStatus(listed.exitCode === 0 ? listed.stdout : '');
    const pending = watched.filter((w) => status.get(w) !== 'synced');
    if (listed.exitCode === 0 && pending.length === 0) return { finishedAt: rt.now() };
    if (rt.now() >= deadline) {
      throw new StepError(
        listed.exitCode !== 0
          ? `no istiod of revision ${input.to} answers on ${member.name} after ${Math.round(input.gateTimeoutMs / 1000)}s`
          : `istiod ${input.to} on ${member.name} does not report ${pending.map((p) => `${p} (${status.get(p) ?? 'not listed'})`).join(', ')} synced after ${Math.round(input.gateTimeoutMs / 1000)}s`,
        {
          retryable: false,
          hint: `no workload has moved yet; check istiod-${input.to}'s log on ${member.name}, then resume, or roll back with "mesh-run upgrade rollback ${input.runId}"`,
        },
      );
    }
    rt.note(`waiting for istiod ${input.to} on ${member.name} to sync ${pending.join(', ') || 'its clusters'}`);
    await sleep(POLL_MS, rt.signal);
  }
}

// Whether the upgrade moves a namespace: the selector chose it, or the old revision injects it. istio-injection
// takes precedence over istio.io/rev (Istio's injector selectors): =enabled goes where the default tag points, or
// to the default revision when there is no tag; otherwise istio.io/rev names the revision. A re-run also finds
// the namespaces already moved.
function chosenNamespace(ns: NamespaceItem, input: UpgradeStepInput, selector: string | undefined, defaultInjects: string): boolean {
  const name = ns.metadata?.name ?? '';
  if (name === ISTIO_SYSTEM || name.startsWith('kube-')) return false;
  if (selector) return true;
  const labels = ns.metadata?.labels ?? {};
  if (labels[INJECTION] !== undefined) return labels[INJECTION] === 'enabled' && defaultInjects === input.from;
  return labels[REV] === input.from || labels[REV] === input.to;
}

// select-namespaces: on every cluster, the namespaces to move (the --namespaces selector, or every one the old
// revision injects), each one's labels journaled as they are now; then cut into waves of --wave-size.
export async function selectNamespaces(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<WavePlan> {
  const spec = deps.config.upgrade;
  if (!spec) throw new StepError('select-namespaces ran outside an upgrade (internal error)');
  const chosen: WaveNamespace[] = [];
  for (const m of input.members) {
    const listed = await getJson<{ items?: NamespaceItem[] }>(
      rt,
      m.context,
      ['namespaces', ...(spec.namespaces ? ['-l', spec.namespaces] : [])],
      'namespaces',
      'observe',
    );
    const defaultInjects = spec.namespaces === undefined ? ((await defaultTag(rt, m)) ?? DEFAULT_REVISION) : '';
    const names = (listed?.items ?? []).filter((ns) => chosenNamespace(ns, input, spec.namespaces, defaultInjects));
    for (const ns of names.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))) {
      const name = ns.metadata?.name ?? '';
      const labels = ns.metadata?.labels ?? {};
      await rt.observe({
        cluster: m.name,
        subject: UPGRADE_SUBJECTS.namespace(name),
        present: true,
        owner: null,
        detail: {
          ...(labels[INJECTION] !== undefined ? { [`label:${INJECTION}`]: labels[INJECTION] } : {}),
          ...(labels[REV] !== undefined ? { [`label:${REV}`]: labels[REV] } : {}),
        },
      });
      chosen.push({ cluster: m.name, context: m.context, namespace: name });
    }
  }
  const waves: WaveNamespace[][] = [];
  for (let i = 0; i < chosen.length; i += spec.waveSize) waves.push(chosen.slice(i, i + spec.waveSize));
  rt.note(
    chosen.length === 0
      ? 'no namespace to move: no workload uses the old revision'
      : `${count(chosen.length, 'namespace')} in ${count(waves.length, 'wave')}: ${waves.map((w, i) => `wave-${i + 1} ${w.map((n) => `${n.cluster}/${n.namespace}`).join(' ')}`).join('; ')}`,
    'info',
  );
  return { waves, finishedAt: rt.now() };
}

function waveOf(input: UpgradeStepInput): WaveNamespace[] {
  if (!input.wave) throw new StepError(`${input.step} ${input.cluster} started without its namespaces (internal error)`);
  return input.wave;
}

// move-wave: the wave's namespaces relabelled to the new revision (istio-injection- istio.io/rev=<new>), their
// deployments restarted so the new revision's injector puts its proxy in.
export async function moveWave(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<StepDone> {
  for (const where of waveOf(input)) {
    const done = await relabelAndRestart(rt, where, { [INJECTION]: undefined, [REV]: input.to }, input.to, deps);
    if (done) rt.note(done, 'info');
  }
  return { finishedAt: rt.now() };
}

// Proxies by pod ("<pod>.<namespace>") -> the istiod pod they are connected to, from istioctl proxy-status.
export function proxiesOf(text: string): Map<string, string> {
  const lines = text.trim().split('\n');
  const header = (lines[0] ?? '').split(/\s{2,}|\t/).map((h) => h.trim());
  const name = header.indexOf('NAME');
  const istiod = header.indexOf('ISTIOD');
  const out = new Map<string, string>();
  if (name < 0 || istiod < 0) return out;
  for (const line of lines.slice(1)) {
    const cells = line.trim().split(/\s{2,}|\t/);
    if (cells[name] && cells[istiod]) out.set(cells[name] as string, cells[istiod] as string);
  }
  return out;
}

// Why a wave's pods are not yet on the new revision: each pod that lacks its proxy, or whose proxy is not
// connected to the new istiod.
async function waveProblems(rt: StepRuntime, input: UpgradeStepInput, wave: WaveNamespace[]): Promise<string[]> {
  const problems: string[] = [];
  const statusOf = new Map<string, Map<string, string>>();
  for (const where of wave) {
    const member = input.members.find((m) => m.name === where.cluster);
    const primary = member?.role === 'primary' ? member : input.members.find((m) => m.name === member?.controlPlane);
    if (!primary) continue;
    if (!statusOf.has(primary.name)) {
      const listed = await rt.run(istioctl(primary.context, ['proxy-status', `--revision=${input.to}`], 'check'));
      if (listed.exitCode !== 0)
        throw commandFailed(
          `istioctl proxy-status on ${primary.name}`,
          listed,
          `the wave's namespaces are relabelled and restarted; once istiod ${input.to} on ${primary.name} answers, resume to check them`,
        );
      statusOf.set(primary.name, proxiesOf(listed.stdout));
    }
    const connected = statusOf.get(primary.name) as Map<string, string>;
    for (const pod of await podsOf(rt, where)) {
      const name = pod.metadata?.name ?? '';
      const sidecar = (pod.spec?.containers ?? []).some((c) => c.name === 'istio-proxy');
      const revision = pod.metadata?.labels?.[REV];
      const at = `${where.cluster}/${where.namespace}/${name}`;
      if (!sidecar) problems.push(`${at}: no proxy`);
      else if (revision !== input.to) problems.push(`${at}: proxy of revision ${revision ?? 'unknown'}`);
      else if (!connected.get(`${name}.${where.namespace}`)?.startsWith(`${istiodName(input.to)}-`))
        problems.push(`${at}: proxy not connected to ${istiodName(input.to)}`);
    }
  }
  return problems;
}

// Pods can only connect where they run: on a cluster whose every node kwok simulates, no proxy ever starts.
// A cluster whose namespaces in the wave hold no pod has nothing to check and is not refused.
async function refuseSimulatedWave(rt: StepRuntime, wave: WaveNamespace[], podCount: Map<WaveNamespace, number>, label: string, runId: string): Promise<void> {
  for (const cluster of [...new Set(wave.map((w) => w.cluster))]) {
    const mine = wave.filter((w) => w.cluster === cluster);
    const where = mine[0] as WaveNamespace;
    if (mine.every((w) => (podCount.get(w) ?? 0) === 0)) continue;
    const listing = await mustSucceed(rt, kubectl(where.context, NODES_QUERY, 'observe'), `kubectl get nodes on ${cluster}`);
    const { all, simulated } = simulatedNodes(listing.stdout);
    if (all > 0 && simulated === all) {
      throw new StepError(
        `the proxy gate of ${label} cannot be checked on ${cluster}: its ${count(all, 'node')} ${all === 1 ? 'is' : 'are'} simulated by kwok (annotation ${SIMULATED_NODE_ANNOTATION}=fake), so no proxy there ever connects to istiod`,
        {
          hint: `on such clusters, "mesh-run resume ${runId} --skip-proxy-gate" goes on (the run journals that the gate was not checked); "mesh-run upgrade rollback ${runId}" undoes the upgrade`,
        },
      );
    }
  }
}

// await-wave: the gate of a wave. Every pod of its namespaces runs a proxy of the new revision that is
// connected to the new istiod (istioctl proxy-status), within the gate timeout.
export async function awaitWave(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<StepDone> {
  const wave = waveOf(input);
  const named = wave.map((w) => `${w.cluster}/${w.namespace}`).join(', ');
  if (deps.config.upgrade?.skipProxyGate) {
    await rt.report('gate-skipped', `--skip-proxy-gate: whether the proxies of ${input.cluster} (${named}) connect to revision ${input.to} was not checked`);
    return { finishedAt: rt.now() };
  }
  const podCount = new Map<WaveNamespace, number>();
  for (const where of wave) podCount.set(where, (await podsOf(rt, where)).length);
  // No pod, no proxy: the gate has nothing to wait for, on kwok as anywhere. It holds, and the journal says why,
  // so a wave that passed is never taken for one whose proxies were seen connected.
  if ([...podCount.values()].every((n) => n === 0)) {
    await rt.report('gate-empty', `${input.cluster} (${named}) has no pods: no proxy to check, so its gate holds without one`);
    return { finishedAt: rt.now() };
  }
  await refuseSimulatedWave(rt, wave, podCount, input.cluster, input.runId);
  const deadline = rt.now() + input.gateTimeoutMs;
  for (;;) {
    const problems = await waveProblems(rt, input, wave);
    if (problems.length === 0) return { finishedAt: rt.now() };
    if (rt.now() >= deadline) {
      throw new StepError(
        `${input.cluster} (${named}) is not on revision ${input.to} after ${Math.round(input.gateTimeoutMs / 1000)}s: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`,
        {
          // The gate already waited its whole timeout: retrying would only wait again. The person decides.
          retryable: false,
          hint: `the namespaces of earlier waves are on ${input.to}, later ones still on ${input.from}; fix the pods, then "mesh-run resume ${input.runId}" continues from this wave, or "mesh-run upgrade rollback ${input.runId}" moves everything back`,
        },
      );
    }
    rt.note(`waiting for ${count(problems.length, 'pod')} of ${input.cluster}: ${problems[0]}`);
    await sleep(POLL_MS, rt.signal);
  }
}

// upgrade-gateway: the gateways upgraded in place (gateways are not canaried, per Istio's page): the ingress
// gateway with the new revision's full IstioOperator, the east-west gateway with its own; the revision each
// ran is journaled first.
export async function upgradeGateway(rt: StepRuntime, input: UpgradeStepInput, deps: ActivityDeps): Promise<StepDone> {
  const member = memberOf(input);
  for (const gateway of gatewaysOf(rt, input, deps)) {
    const before = await gatewayRevision(rt, member.context, gateway.name);
    await rt.observe({
      cluster: member.name,
      subject: gateway.subject,
      present: before !== undefined,
      owner: null,
      detail: before ? { revision: before } : null,
    });
    if (before !== undefined && before !== input.to) await gateway.install(input.to);
  }
  return { finishedAt: rt.now() };
}

// flip-tag: the default tag (what istio-injection=enabled and istio.io/rev=default inject with) to the new revision.
export async function flipTag(rt: StepRuntime, input: UpgradeStepInput): Promise<StepDone> {
  const member = memberOf(input);
  const before = await defaultTag(rt, member);
  await rt.observe({
    cluster: member.name,
    subject: UPGRADE_SUBJECTS.defaultTag,
    present: before !== undefined,
    owner: null,
    detail: before ? { revision: before } : null,
  });
  await setDefaultTag(rt, member, input.to);
  return { finishedAt: rt.now() };
}

// remove-old-revision: only after every gate held, and only when no pod still runs the old revision's proxy.
export async function removeOldRevision(rt: StepRuntime, input: UpgradeStepInput): Promise<StepDone> {
  const member = memberOf(input);
  const stranded = await podsOnRevision(rt, member, input.from);
  if (stranded.length > 0) {
    throw new StepError(
      `${count(stranded.length, 'pod')} on ${member.name} still ${stranded.length === 1 ? 'runs' : 'run'} revision ${input.from}'s proxy (${stranded.slice(0, 5).join(', ')}${stranded.length > 5 ? ', ...' : ''}); removing it would leave them without a control plane`,
      { hint: `move or restart them (their namespaces were not selected), then resume; or resume --force after "upgrade --keep-old" is what you meant` },
    );
  }
  await removeRevision(rt, member, input.from);
  return { finishedAt: rt.now() };
}
