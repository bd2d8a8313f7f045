// mesh-run drift, part 4: the roots of trust, against the journal. Pure. Every primary the journal gave cacerts
// still has them, carrying the root and intermediate the journal recorded (cacerts-journal.ts); all primaries
// sign under one root; no intermediate is about to expire (the thresholds of trust audit, trust-assessment.ts).
// Only fingerprints and dates come in: the reads keep cacerts' public certificates in memory, never its key.
import type { MeshCluster } from '../../shared/model.js';
import type { JournaledCacerts } from './cacerts-journal.js';
import { type DriftContext, istiodOf } from './drift-model.js';
import type { DriftFacts } from './drift-reads.js';
import { CACERTS, ISTIO_SYSTEM } from './install-common.js';
import { DAY, daysLeft, ERROR_DAYS, WARN_DAYS } from './trust-assessment.js';

const short = (fp: string | undefined) => (fp ? fp.slice(0, 12) : undefined);

// The root a primary signs under: its cacerts' (from istiod's next start, if not yet), else the one it publishes.
const rootOf = (f: DriftFacts | undefined) => f?.cacertsPrints?.root ?? f?.root;

// Where the mesh's CA files are: the config's trust directory.
function caDirOf(ctx: DriftContext): string | undefined {
  const trust = ctx.config.trust;
  return trust?.source === 'files' ? trust.caDir : trust?.outputDir;
}

const restart = (ctx: DriftContext, p: MeshCluster) => `kubectl rollout restart deployment/${istiodOf(ctx)} -n ${ISTIO_SYSTEM} --context=${p.context}`;

function createCommand(ctx: DriftContext, p: MeshCluster): string {
  const dir = caDirOf(ctx) ?? '<the CA directory>';
  return `kubectl create secret generic ${CACERTS} -n ${ISTIO_SYSTEM} --context=${p.context} --from-file=${dir}/${p.name}/{ca-cert,ca-key,root-cert,cert-chain}.pem, then ${restart(ctx, p)}`;
}

// Every primary the journal gave cacerts has them.
function missing(ctx: DriftContext, primaries: MeshCluster[]): void {
  for (const p of primaries) {
    const f = ctx.facts.get(p.name);
    if (!f || f.cacerts || !(ctx.cacerts.has(p.name) || ctx.certs.has(p.name) || ctx.config.trust)) continue;
    ctx.items.push({
      kind: 'cacerts-missing',
      cluster: p.name,
      what: `${p.name} has no ${CACERTS} in ${ISTIO_SYSTEM} (the journal saw the mesh's CA there)`,
      why: `istiod on ${p.name} signs with a self-signed root of its own at its next restart: mTLS with the other clusters fails`,
      repair: createCommand(ctx, p),
    });
  }
}

const knownAs = (expected: JournaledCacerts) =>
  'runId' in expected.source ? `recorded by run ${expected.source.runId}` : `the root in the trust directory ${expected.source.trustDir}`;

// cacerts carries the root and intermediate the journal recorded last (by install, adoption or a rotation).
function changed(ctx: DriftContext, primaries: MeshCluster[]): void {
  const mesh = ctx.config.meshID;
  const dir = caDirOf(ctx);
  for (const p of primaries) {
    const f = ctx.facts.get(p.name);
    const expected = ctx.certs.get(p.name);
    if (!f?.cacerts || !expected) continue;
    const now = f.cacertsPrints ?? {};
    const root = expected.root !== undefined && now.root !== expected.root;
    const intermediate = !root && expected.intermediate !== undefined && now.intermediate !== expected.intermediate;
    if (!root && !intermediate) continue;
    ctx.items.push({
      kind: 'cacerts-changed',
      cluster: p.name,
      what: root
        ? `${CACERTS} on ${p.name} carries ${now.root ? `root ${short(now.root)}` : 'no readable root-cert.pem'}, not ${short(expected.root)} (SHA-256; the journal's, ${knownAs(expected)})`
        : `${CACERTS} on ${p.name} carries intermediate ${short(now.intermediate) ?? '(none readable)'} under the same root, not ${short(expected.intermediate)} (SHA-256; the journal's, ${knownAs(expected)})`,
      why: root
        ? `istiod on ${p.name} signs under that root from its next start: its workloads and the rest of the mesh's stop trusting each other (mTLS fails)`
        : `workloads still trust it (one root), but istiod on ${p.name} signs with a CA mesh-run did not plug in, whose expiry and origin the journal does not know`,
      repair: `mesh-run repair --mesh ${mesh} --only cacerts-changed --force (re-plugs the mesh's own ${CACERTS} from its trust directory${dir ? ` ${dir}` : ''}, then restarts istiod; --force because the ${CACERTS} there now is not the one mesh-run plugged in)`,
    });
  }
}

// All primaries sign under one root: the journal's where it knows it, else the one most primaries share.
function rootsDiffer(ctx: DriftContext, primaries: MeshCluster[]): void {
  const rooted = primaries.filter((p) => rootOf(ctx.facts.get(p.name)));
  const groups = new Map<string, MeshCluster[]>();
  for (const p of rooted) {
    const root = rootOf(ctx.facts.get(p.name)) as string;
    groups.set(root, [...(groups.get(root) ?? []), p]);
  }
  if (groups.size < 2) return;
  // How many primaries the journal expects under each root: a replaced cacerts is then the odd one out, even
  // on a tie (two primaries).
  const journaled = (root: string) => primaries.filter((p) => ctx.certs.get(p.name)?.root === root).length;
  const [main] = [...groups].sort(
    (a, b) => journaled(b[0]) - journaled(a[0]) || b[1].length - a[1].length || rooted.indexOf(a[1][0] as MeshCluster) - rooted.indexOf(b[1][0] as MeshCluster),
  );
  const [mainRoot, mainHolders] = main as [string, MeshCluster[]];
  for (const [root, holders] of groups) {
    if (root === mainRoot) continue;
    for (const p of holders) {
      const f = ctx.facts.get(p.name);
      const pending = f?.cacertsPrints?.root && f.root && f.root !== f.cacertsPrints.root ? ` (its ${CACERTS}'; from istiod's next start)` : '';
      ctx.items.push({
        kind: 'roots-differ',
        cluster: p.name,
        what: `${p.name} signs under root ${root.slice(0, 12)}${pending}, the other primaries (${mainHolders.map((h) => h.name).join(', ')}) under ${mainRoot.slice(0, 12)} (SHA-256)`,
        why: `workloads served by ${p.name} and by the other primaries do not trust each other's certificates: cross-cluster mTLS fails`,
        repair: `put the mesh's ${CACERTS} back: kubectl delete secret ${CACERTS} -n ${ISTIO_SYSTEM} --context=${p.context}; ${createCommand(ctx, p)}`,
      });
    }
  }
}

// No primary's intermediate expires within WARN_DAYS (a warning: nothing drifted, but istiod will stop signing).
function expiring(ctx: DriftContext, primaries: MeshCluster[]): void {
  for (const p of primaries) {
    const iso = ctx.facts.get(p.name)?.cacertsPrints?.intermediateNotAfter;
    const notAfter = iso ? new Date(iso) : undefined;
    if (!notAfter || Number.isNaN(notAfter.getTime())) continue;
    const left = notAfter.getTime() - ctx.now;
    if (left > WARN_DAYS * DAY) continue;
    const on = iso?.slice(0, 10);
    const days = daysLeft(notAfter, ctx.now);
    ctx.items.push({
      kind: 'intermediate-expiring',
      cluster: p.name,
      severity: 'warning',
      what:
        left <= 0
          ? `the intermediate in ${CACERTS} on ${p.name} expired on ${on}`
          : left <= ERROR_DAYS * DAY
            ? `the intermediate in ${CACERTS} on ${p.name} expires on ${on}: ${days} days left, within ${ERROR_DAYS} days`
            : `the intermediate in ${CACERTS} on ${p.name} expires on ${on} (${days} days left)`,
      why: `istiod on ${p.name} cannot sign workload certificates under an expired intermediate: new and renewed certificates fail, and mTLS with them`,
      repair: `mesh-run trust rotate --mesh ${ctx.config.meshID} --intermediate`,
    });
  }
}

export function trustDrift(ctx: DriftContext): void {
  const primaries = ctx.config.clusters.filter((c) => c.role === 'primary');
  missing(ctx, primaries);
  changed(ctx, primaries);
  rootsDiffer(ctx, primaries);
  expiring(ctx, primaries);
}
