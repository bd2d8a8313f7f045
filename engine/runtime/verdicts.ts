// Words for the failures a machine decides itself (verdicts): the machine keeps the facts, the engine says
// what they mean and what to do, in the journal and on the screen.
import type { MachineFailure, StepFailure, Verdict } from '../../machines/types.js';

// A wait as a person would write it: whole minutes as "2m", otherwise seconds.
function formatWait(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}

function wordVerdict(verdict: Verdict, runId: string): StepFailure {
  switch (verdict.kind) {
    case 'gateway-hostname-only':
      return {
        message: `the east-west gateway got the hostname ${verdict.hostname} and no IP: a hostname remotePilotAddress becomes an ExternalName service in ${verdict.remotes.join(', ')}, which the injection webhook cannot call, so primary-remote does not work behind a hostname load balancer (as on AWS EKS)`,
        hint: 'give the gateway a load balancer that assigns an IP, or use the external control plane design with injectionURL (see Istio docs)',
        retryable: false,
      };
    case 'gateway-no-address':
      return {
        message: `the east-west gateway service istio-eastwestgateway got no load-balancer IP within ${formatWait(verdict.waitedMs)}`,
        hint: `the primary cluster seems to have no LoadBalancer provider: install one (for example MetalLB on kind or bare metal), then run "mesh-run resume ${runId}"`,
        retryable: false,
      };
  }
}

// A machine's failure as the journal records it: a step's own words, or a verdict worded.
export function wordFailure(failure: MachineFailure, runId: string): StepFailure {
  return 'verdict' in failure ? wordVerdict(failure.verdict, runId) : failure;
}
