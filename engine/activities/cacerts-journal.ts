// What the journal says each primary's cacerts carries, for drift to compare with: the fingerprints of its root
// and intermediate as the newest run that looked at it (or wrote it) recorded them. Install and cluster add
// record them before acting (SUBJECTS.cacerts) and after plugging cacerts in (SUBJECTS.cacertsCerts), adoption
// as it finds them; a run that replaces cacerts on purpose (a trust rotation) records the new ones after it, so
// the newest is what the mesh should carry.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MeshConfig } from '../../shared/model.js';
import type { Observation } from '../../store/contract.js';
import { type Inventory, SUBJECTS } from './inventory.js';
import { type CacertsPrints, printsFromDetail, printsOf } from './trust/cacerts-prints.js';

export interface JournaledCacerts extends CacertsPrints {
  // Where the expectation comes from: a run's observation, or (meshes installed before fingerprints were
  // journaled) the root in the trust directory.
  source: { runId: string } | { trustDir: string };
}

const CACERTS_SUBJECTS: readonly string[] = [SUBJECTS.cacerts, SUBJECTS.cacertsCerts];

// The root a primary's cacerts was made from, in the config's trust directory: Istio's tools/certs layout
// (<dir>/<cluster>/root-cert.pem), else the generated root beside it (<dir>/root-cert.pem). Public: the root
// certificate only; no key is opened.
function trustDirRoot(config: MeshConfig, cluster: string): JournaledCacerts | undefined {
  const trust = config.trust;
  const dir = trust?.source === 'files' ? trust.caDir : trust?.outputDir;
  if (!dir) return undefined;
  for (const path of [join(dir, cluster, 'root-cert.pem'), join(dir, 'root-cert.pem')]) {
    if (!existsSync(path)) continue;
    try {
      const root = printsOf({ rootCert: readFileSync(path, 'utf8') }).root;
      return root ? { root, source: { trustDir: dir } } : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

// Per primary, the newest journaled prints across `observations` (the mesh's runs, oldest first, as the store
// lists them). A primary with none: a mesh installed before the prints were journaled. Its trust directory's
// root stands in when there is one (mesh-run plugged cacerts from it); else nothing is expected, and drift
// says nothing about a changed cacerts there rather than guess (cacerts-missing and roots-differ still hold).
export function journaledCacerts(observations: readonly Observation[], config: MeshConfig): Map<string, JournaledCacerts> {
  const out = new Map<string, JournaledCacerts>();
  const met = new Set<string>();
  for (const o of observations) {
    if (!CACERTS_SUBJECTS.includes(o.subject)) continue;
    // What a run saw before it acted counts only where mesh-run first met the primary (its install, cluster add
    // or adoption): a later run's look (an upgrade's, a verify's) would take a cacerts replaced by hand since as
    // what it should be. After that, only a run that wrote or kept cacerts on purpose (SUBJECTS.cacertsCerts:
    // install's plug-in, a repair, a rotation) says what it carries.
    if (o.subject === SUBJECTS.cacerts) {
      if (met.has(o.cluster)) continue;
      met.add(o.cluster);
    }
    // Absent when a later run looked (a primary that left and joined again without cacerts): nothing expected.
    if (!o.present) out.delete(o.cluster);
    const prints = o.present ? printsFromDetail(o.detail) : undefined;
    if (prints) out.set(o.cluster, { ...prints, source: { runId: o.runId } });
  }
  for (const p of config.clusters.filter((c) => c.role === 'primary')) {
    if (out.has(p.name)) continue;
    const fallback = trustDirRoot(config, p.name);
    if (fallback) out.set(p.name, fallback);
  }
  return out;
}

// What drift expects of cacerts, from what the mesh's runs observed (follow-up-deps.ts expectedInventory): the
// primaries any of them saw holding cacerts, and what each primary's should carry.
export function expectedCacerts(inventory: Inventory | undefined, config: MeshConfig): { cacerts: Set<string>; certs: Map<string, JournaledCacerts> } {
  const observations = inventory?.allOf(CACERTS_SUBJECTS) ?? [];
  const cacerts = new Set(observations.filter((o) => o.subject === SUBJECTS.cacerts && o.present).map((o) => o.cluster));
  return { cacerts, certs: journaledCacerts(observations, config) };
}
