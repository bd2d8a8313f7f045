// The steps of the Istio page, each idempotent: observe, act only if needed, verify.
// They speak to clusters only through StepRuntime, so the same code drives real and simulated clusters.
// Each group of steps has its module; this one is the face the engine binds the machines' actors to.

export {
  type ActivityDeps,
  CACERTS,
  CONTROL_PLANE_ANNOTATION,
  GATEWAY_SERVICE,
  ISTIO_SYSTEM,
  MIN_ISTIO_MINOR,
  NETWORK_LABEL,
  READER_TOKEN,
} from './install-common.js';
export { addressVariable, installEastwestGateway, labelNetwork, probeGatewayAddress, readDiscoveryAddress } from './network-steps.js';
export { parseIstioVersion, preflight } from './preflight.js';
export { exposeIstiodStep, exposeServicesStep, installPrimary } from './primary-steps.js';
export { applyRemoteSecret, attachRemote, exchangeSecret, LAST_APPLIED, receiveSecrets, remoteSecretName } from './remote-secrets.js';
export { annotateRemoteNamespace, createRemoteNamespace, installRemote } from './remote-steps.js';
