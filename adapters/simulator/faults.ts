// Failure injection: where in a step an injected failure strikes, and what the tools then print.
import type { StepId } from '../../machines/steps.js';
import type { Command, CommandResult } from '../cluster-tools.js';

export type FaultKind = 'permanent' | 'transient';

export interface FaultSpec {
  step: StepId;
  cluster?: string;
  count: number;
  kind: FaultKind;
}

// The command of each step that an injected failure hits: the step's action, or its first probe.
export function isFaultPoint(step: StepId, command: Command): boolean {
  const [a0, a1] = verbOf(command);
  switch (step) {
    case 'preflight':
      return command.tool === 'kubectl' && a0 === 'version' && !command.args.includes('--client');
    case 'install-primary':
    case 'install-eastwest-gateway':
    case 'install-remote':
    case 'repair-control-plane':
      return command.tool === 'istioctl' && a0 === 'install';
    // A repair that looks before it installs: its first look (it may find nothing to do).
    case 'repair-gateway':
    case 'repair-remote':
    case 'repair-trust':
      return command.tool === 'kubectl' && a0 === 'get';
    case 'repair-tag':
      return command.tool === 'istioctl' && a0 === 'tag';
    case 'await-gateway-address':
    case 'read-discovery-address':
    case 'record-existing':
    case 'check-drift':
    case 'mint-token':
    case 'revoke-token':
      return command.tool === 'kubectl' && a0 === 'get';
    case 'swap-secret':
      return command.tool === 'istioctl' && a0 === 'create-remote-secret';
    case 'await-synced':
      return command.tool === 'istioctl' && a0 === 'remote-clusters';
    case 'expose-istiod':
    case 'expose-services':
    case 'repair-expose':
      return command.tool === 'kubectl' && a0 === 'apply';
    case 'label-network':
    case 'repair-label':
      return command.tool === 'kubectl' && a0 === 'label';
    case 'create-remote-namespace':
      return command.tool === 'kubectl' && a0 === 'create';
    case 'annotate-remote-namespace':
    case 'repair-annotation':
      return command.tool === 'kubectl' && a0 === 'annotate';
    case 'attach-remote':
    case 'exchange-secret':
    case 'receive-secrets':
      return command.tool === 'istioctl' && a0 === 'create-remote-secret';
    // A repair's secret is named by the primary that holds it: the apply there, not the istioctl on its source.
    case 'repair-secret':
      return command.tool === 'kubectl' && a0 === 'apply';
    case 'establish-trust':
      return command.tool === 'kubectl' && a0 === 'create' && command.sensitiveStdin === true;
    case 'check-remote-clusters':
      return command.tool === 'istioctl' && a0 === 'remote-clusters';
    case 'check-injector-ca':
    case 'remove-sample':
    case 'detach-remote':
    case 'release-secrets':
    case 'remove-stale-secret':
      return command.tool === 'kubectl' && a0 === 'get';
    case 'deploy-sample':
      return command.tool === 'kubectl' && a0 === 'apply';
    case 'await-sample':
      return command.tool === 'kubectl' && command.args.includes('rollout');
    case 'check-traffic':
      // The step tolerates single failed requests (it keeps asking); its first probe failing fails it.
      return command.tool === 'kubectl' && a0 === 'get';
    case 'uninstall-remote':
    case 'uninstall-primary':
    case 'remove-old-revision':
    case 'remove-remote-revision':
    case 'remove-new-revision':
      return command.tool === 'istioctl' && a0 === 'uninstall';
    case 'precheck-upgrade':
      return command.tool === 'istioctl' && a0 === 'x';
    case 'install-revision':
    case 'install-remote-revision':
    case 'upgrade-gateway':
    case 'restore-gateway':
      return command.tool === 'istioctl' && a0 === 'install';
    case 'expose-istiod-revision':
      return command.tool === 'kubectl' && a0 === 'apply';
    case 'await-revision-synced':
      return command.tool === 'istioctl' && a0 === 'remote-clusters';
    case 'select-namespaces':
      return command.tool === 'kubectl' && a0 === 'get';
    case 'move-wave':
    case 'restore-namespaces':
      return command.tool === 'kubectl' && a0 === 'label';
    case 'await-wave':
      return command.tool === 'istioctl' && a0 === 'proxy-status';
    case 'flip-tag':
    case 'restore-tag':
      return command.tool === 'istioctl' && a0 === 'tag' && a1 !== 'list';
    // trust rotate: reading cacerts' certificates; replacing cacerts; reading istiod; reading what it serves.
    case 'mint-intermediate':
    case 'load-intermediate':
    case 'await-istiod-chain':
      return command.tool === 'kubectl' && a0 === 'get';
    case 'plug-intermediate':
      return command.tool === 'kubectl' && a0 === 'apply' && command.sensitiveStdin === true;
  }
}

function verbOf(command: Command): string[] {
  return command.args.filter((a) => !a.startsWith('-')).slice(0, 2);
}

// istioctl install applies its manifests and then fails while waiting: the cluster changed anyway.
export function faultAppliesEffect(step: StepId): boolean {
  return (
    step === 'install-primary' ||
    step === 'repair-control-plane' ||
    step === 'install-eastwest-gateway' ||
    step === 'install-remote' ||
    step === 'uninstall-remote' ||
    step === 'uninstall-primary' ||
    step === 'install-revision' ||
    step === 'install-remote-revision' ||
    step === 'upgrade-gateway' ||
    step === 'restore-gateway' ||
    step === 'remove-old-revision' ||
    step === 'remove-remote-revision' ||
    step === 'remove-new-revision'
  );
}

const USER = 'system:serviceaccount:ci:deployer';

// The error a real tool prints for this kind of failure at this step.
export function faultResult(step: StepId, kind: FaultKind, command: Command): CommandResult {
  const text = kind === 'transient' ? transientText(step, command) : permanentText(step, command);
  return { exitCode: 1, stdout: '', stderr: `${text}\n` };
}

function transientText(step: StepId, command: Command): string {
  if (step === 'uninstall-remote' || step === 'uninstall-primary' || step.startsWith('remove-'))
    return 'Error: failed to delete resources: etcdserver: request timed out';
  if (faultAppliesEffect(step)) {
    return `✘ Istiod encountered an error: failed to wait for resource: etcdserver: request timed out\nError: failed to install manifests: errors occurred during operation`;
  }
  if (step === 'attach-remote' || step === 'exchange-secret' || step === 'receive-secrets' || step === 'swap-secret')
    return 'error: could not get access token to read resources from local kube-apiserver: timed out waiting for the condition';
  return `Unable to connect to the server: dial tcp 10.${command.context.length % 200}.0.1:6443: i/o timeout`;
}

function permanentText(step: StepId, command: Command): string {
  switch (step) {
    case 'preflight':
      return 'error: You must be logged in to the server (Unauthorized)';
    case 'install-primary':
    case 'repair-control-plane':
      return `✘ Istiod encountered an error: failed to wait for resource: resources not ready after 5m0s: Deployment/istio-system/istiod (container failed to start: ImagePullBackOff: Back-off pulling image "docker.io/istio/pilot")\nError: failed to install manifests: errors occurred during operation`;
    case 'install-eastwest-gateway':
      return `✘ Ingress gateways encountered an error: failed to wait for resource: resources not ready after 5m0s: Deployment/istio-system/istio-eastwestgateway (container failed to start: ImagePullBackOff: Back-off pulling image "docker.io/istio/proxyv2")\nError: failed to install manifests: errors occurred during operation`;
    case 'install-remote':
      return `✘ Istio core encountered an error: failed to update resource with server-side apply for obj MutatingWebhookConfiguration//istio-sidecar-injector: mutatingwebhookconfigurations.admissionregistration.k8s.io "istio-sidecar-injector" is forbidden: User "${USER}" cannot patch resource "mutatingwebhookconfigurations" in API group "admissionregistration.k8s.io" at the cluster scope\nError: failed to install manifests: errors occurred during operation`;
    case 'await-gateway-address':
    case 'read-discovery-address':
    case 'repair-gateway':
    case 'repair-remote':
      return `Error from server (Forbidden): services "istio-eastwestgateway" is forbidden: User "${USER}" cannot get resource "services" in API group "" in the namespace "istio-system"`;
    case 'expose-istiod':
    case 'expose-services':
    case 'repair-expose':
      return `Error from server (Forbidden): error when creating "STDIN": gateways.networking.istio.io is forbidden: User "${USER}" cannot create resource "gateways" in API group "networking.istio.io" in the namespace "istio-system"`;
    case 'label-network':
    case 'repair-label':
      return `Error from server (Forbidden): namespaces "istio-system" is forbidden: User "${USER}" cannot patch resource "namespaces" in API group "" in the namespace "istio-system"`;
    case 'create-remote-namespace':
      return `Error from server (Forbidden): namespaces is forbidden: User "${USER}" cannot create resource "namespaces" in API group "" at the cluster scope`;
    case 'annotate-remote-namespace':
    case 'repair-annotation':
      return `Error from server (Forbidden): namespaces "istio-system" is forbidden: User "${USER}" cannot patch resource "namespaces" in API group "" in the namespace "istio-system"`;
    case 'establish-trust':
    case 'repair-secret':
      return `Error from server (Forbidden): error when creating "STDIN": secrets is forbidden: User "${USER}" cannot create resource "secrets" in API group "" in the namespace "istio-system"`;
    case 'check-remote-clusters':
    case 'await-synced':
      return 'Error: unable to find any Istiod instances';
    case 'check-injector-ca':
      return `Error from server (Forbidden): mutatingwebhookconfigurations.admissionregistration.k8s.io "istio-sidecar-injector" is forbidden: User "${USER}" cannot get resource "mutatingwebhookconfigurations" in API group "admissionregistration.k8s.io" at the cluster scope`;
    case 'deploy-sample':
      return `Error from server (Forbidden): error when creating "STDIN": deployments.apps is forbidden: User "${USER}" cannot create resource "deployments" in API group "apps" in the namespace "sample"`;
    case 'await-sample':
      return `error: deployment "${command.args.find((a) => a.startsWith('deployment/'))?.slice('deployment/'.length) ?? 'curl'}" exceeded its progress deadline`;
    case 'check-traffic':
      return `Error from server (Forbidden): pods is forbidden: User "${USER}" cannot list resource "pods" in API group "" in the namespace "sample"`;
    case 'record-existing':
    case 'check-drift':
      return `Error from server (Forbidden): namespaces "istio-system" is forbidden: User "${USER}" cannot get resource "namespaces" in API group "" in the namespace "istio-system"`;
    case 'remove-sample':
      return `Error from server (Forbidden): namespaces "sample" is forbidden: User "${USER}" cannot get resource "namespaces" in API group "" in the namespace "sample"`;
    case 'detach-remote':
    case 'release-secrets':
    case 'remove-stale-secret':
    case 'repair-trust':
    case 'mint-token':
    case 'revoke-token':
      return `Error from server (Forbidden): secrets is forbidden: User "${USER}" cannot get resource "secrets" in API group "" in the namespace "istio-system"`;
    case 'uninstall-remote':
    case 'uninstall-primary':
      return `Error: failed to delete resources: customresourcedefinitions.apiextensions.k8s.io is forbidden: User "${USER}" cannot delete resource "customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster scope`;
    case 'precheck-upgrade':
      return 'Error: 1 error occurred:\n\t* IST0158 (Namespace istio-system) the istio-system namespace has a failing webhook: istio-validator-istio-system';
    case 'install-revision':
      return `✘ Istiod encountered an error: failed to wait for resource: resources not ready after 5m0s: Deployment/istio-system/istiod (container failed to start: ImagePullBackOff: Back-off pulling image "docker.io/istio/pilot")\nError: failed to install manifests: errors occurred during operation`;
    case 'install-remote-revision':
      return `✘ Istio core encountered an error: failed to update resource with server-side apply for obj MutatingWebhookConfiguration//istio-sidecar-injector: mutatingwebhookconfigurations.admissionregistration.k8s.io is forbidden: User "${USER}" cannot patch resource "mutatingwebhookconfigurations" in API group "admissionregistration.k8s.io" at the cluster scope\nError: failed to install manifests: errors occurred during operation`;
    case 'upgrade-gateway':
    case 'restore-gateway':
      return `✘ Ingress gateways encountered an error: failed to wait for resource: resources not ready after 5m0s: Deployment/istio-system/istio-eastwestgateway (container failed to start: ImagePullBackOff: Back-off pulling image "docker.io/istio/proxyv2")\nError: failed to install manifests: errors occurred during operation`;
    case 'expose-istiod-revision':
      return `Error from server (Forbidden): error when creating "STDIN": virtualservices.networking.istio.io is forbidden: User "${USER}" cannot create resource "virtualservices" in API group "networking.istio.io" in the namespace "istio-system"`;
    case 'await-revision-synced':
      return `Error: failure running port forward process: pods "istiod-b-5d8f9c7b6-x2kqp" is forbidden: User "${USER}" cannot create resource "pods/portforward" in API group "" in the namespace "istio-system"`;
    case 'select-namespaces':
      return `Error from server (Forbidden): namespaces is forbidden: User "${USER}" cannot list resource "namespaces" in API group "" at the cluster scope`;
    case 'move-wave':
    case 'restore-namespaces':
      return `Error from server (Forbidden): namespaces "${command.args.filter((a) => !a.startsWith('-'))[2] ?? 'default'}" is forbidden: User "${USER}" cannot patch resource "namespaces" in API group "" in the namespace "${command.args.filter((a) => !a.startsWith('-'))[2] ?? 'default'}"`;
    case 'await-wave':
      return 'Error: failed to get proxy infos: unable to find any Istiod instances';
    case 'flip-tag':
    case 'restore-tag':
    case 'repair-tag':
      return `Error: failed to apply tag webhook MutatingWebhookConfiguration to cluster: mutatingwebhookconfigurations.admissionregistration.k8s.io is forbidden: User "${USER}" cannot create resource "mutatingwebhookconfigurations" in API group "admissionregistration.k8s.io" at the cluster scope`;
    case 'remove-old-revision':
    case 'remove-remote-revision':
    case 'remove-new-revision':
      return `Error: failed to delete resources: deployments.apps is forbidden: User "${USER}" cannot delete resource "deployments" in API group "apps" in the namespace "istio-system"`;
    case 'mint-intermediate':
      return `Error from server (Forbidden): secrets "cacerts" is forbidden: User "${USER}" cannot get resource "secrets" in API group "" in the namespace "istio-system"`;
    case 'plug-intermediate':
      return `Error from server (Forbidden): secrets "cacerts" is forbidden: User "${USER}" cannot patch resource "secrets" in API group "" in the namespace "istio-system"`;
    case 'load-intermediate':
      return `Error from server (Forbidden): deployments.apps "istiod" is forbidden: User "${USER}" cannot get resource "deployments" in API group "apps" in the namespace "istio-system"`;
    case 'await-istiod-chain':
      return `Error from server (Forbidden): services "http:istiod:15014" is forbidden: User "${USER}" cannot get resource "services/proxy" in API group "" in the namespace "istio-system"`;
    case 'attach-remote':
    case 'exchange-secret':
    case 'receive-secrets':
    case 'swap-secret':
      return `Error: could not get access token to read resources from local kube-apiserver: serviceaccounts "istio-reader-service-account" is forbidden: User "${USER}" cannot get resource "serviceaccounts" in API group "" in the namespace "istio-system" (context ${command.context})`;
  }
}
