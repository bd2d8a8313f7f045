// What the engine asks of a run kind, declared once in the kind's own module (engine/kinds/<kind>.ts) instead of
// branching on its name across the house. Light: data and pure functions only (status and completion load it);
// the kind's machine bound to its activities is its workflow (engine/kinds/workflows.ts), loaded by the driver.
import type { RunKind } from '../../machines/steps.js';
import type { MeshConfig } from '../../shared/model.js';

// How a run of the kind stands to its mesh's membership: an install founds a mesh; a cluster add or remove,
// an upgrade and its rollback change it (the mesh's record follows them); the others act on the mesh as it is.
export type MeshRole = 'founds' | 'joins' | 'leaves' | 'changes' | 'acts-on';

// A gate a resume may skip with a flag, recorded in the run's config.
export interface SkippableGate {
  flag: '--skip-proxy-gate' | '--skip-sync-gate';
  // What skipping it means, journaled with the resume.
  detail: string;
  skip(config: MeshConfig): MeshConfig;
}

// An unfinished run of this kind blocks changes of its mesh: 'revisions' (an upgrade or its rollback holds the
// mesh between two revisions: no other upgrade, cluster add or remove, or rotation), 'tokens' (a rotation may
// have left old tokens valid: no other rotation). Says why, and how to get out of it.
export interface Blocking {
  holds: 'revisions' | 'tokens';
  // "upgrade run mr-1 of mesh m is running at move-wave@wave-1: <why>"
  noun: string;
  why: string;
  // What to do: finish it, or undo it (`step`: where it stopped, if it says).
  way(id: string, step: string | undefined): string;
}

export interface KindModule {
  readonly kind: RunKind;
  readonly mesh: MeshRole;
  // Founds the mesh from what already runs on its clusters (an adoption): mesh-run made none of it, so removing
  // the mesh needs --force, and names what it deletes.
  readonly adopts?: true;
  // Takes the mesh off its clusters when it succeeds (the mesh's record says "removed" after it).
  readonly removesMesh?: true;
  // The kind whose run this one takes back, from that run's observations (an upgrade rollback).
  readonly reverses?: RunKind;
  // Reads the observations of the runs that made the mesh (what existed before mesh-run acted): an uninstall
  // keeps it, a drift check compares the clusters with it.
  readonly keepsWhatExisted?: true;
  // Only reads the clusters: it claims none of them, so it neither waits for nor blocks a run that changes
  // them. Its lease still fences its own journal writes (and a dry run's simulated calls).
  readonly readsOnly?: true;
  // How it stands to drift: it checks for it (its observations say what it saw, and where it looked), or it
  // repairs it (its config's repair list says what). The drift history of a mesh reads these runs.
  readonly drift?: 'checks' | 'repairs';
  // Its observations say what existed before mesh-run acted (a verify's sample namespace): a later run that
  // keeps what existed reads them too.
  readonly observesWhatExisted?: true;
  // Acts only on a mesh whose install finished (refused at once otherwise).
  readonly needsFinishedMesh?: true;
  // Deploys the sample (helloworld, curl): a samplesDir in the config must hold its manifests.
  readonly deploysSamples?: true;
  readonly skippableGate?: SkippableGate;
  readonly blocking?: Blocking;
  readonly plan: {
    // What a plan rehearses first, so the run meets the mesh it would meet for real.
    after: readonly RunKind[];
    // The flag plan needs for this kind, and what it names.
    needs?: { field: 'name' | 'revision'; flag: string; what: string };
  };
  // What it is doing to the clusters it claims, for another run that finds them busy ("... before <doing> them").
  doing(config: MeshConfig): string;
  // What a finished run achieved, in the words of its kind; `after` is the mesh as the run left it.
  summary(config: MeshConfig, after: MeshConfig): string;
}
