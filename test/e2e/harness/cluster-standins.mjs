// Stand-ins for what the e2e clusters lack (no kubelet, no data plane):
// 1. A load-balancer provider (the role MetalLB plays on kind): LoadBalancer services get an address through the
//    status subresource. Its mode is read from a file on every pass, so a test can switch it:
//    "ip <delayMs>", "hostname <delayMs>" or "none". "ip <delayMs> <renumber>" (0, 1, 2, ...) moves every address
//    out of 172.<30 + renumber>.x.y into it, as a provider that hands out new addresses does (drift tests).
// 2. Istio's injection webhooks are set to failurePolicy Ignore: the API server calls them at the istiod pod's
//    address, where nothing listens (the real istiod below is on loopback), and with Fail it would refuse every
//    pod a webhook selects (the east-west gateway's included).
//    Test-only surgery on the test clusters; mesh-run itself never touches webhooks.
// 3. The kubelet's part for istiod pods: a real istiod process behind each (real-istiod.mjs), when
//    MESH_RUN_E2E_PILOT names a pilot-discovery binary.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { startIstiodRunner } from './real-istiod.mjs';

const [kubeconfig, modeFile, ...contexts] = process.argv.slice(2);
const stamp = () => new Date().toISOString().slice(11, 19);
const istiods = process.env.MESH_RUN_E2E_PILOT
  ? startIstiodRunner({
      kubeconfig,
      contexts,
      stateDir: dirname(modeFile),
      binary: process.env.MESH_RUN_E2E_PILOT,
      log: (line) => console.log(`${stamp()} ${line}`),
    })
  : undefined;
const kubectl = (context, args) =>
  execFileSync('kubectl', ['--kubeconfig', kubeconfig, '--context', context, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 10_000,
  });

function mode() {
  try {
    const [kind, delay, renumber] = readFileSync(modeFile, 'utf8').trim().split(/\s+/);
    return { kind: kind ?? 'ip', delayMs: Number(delay ?? 0), renumber: renumber === undefined ? undefined : Number(renumber) };
  } catch {
    return { kind: 'ip', delayMs: 0 };
  }
}

function pass() {
  const { kind, delayMs, renumber } = mode();
  // Without a renumbering any address stands; with one, only an address of its range.
  const prefix = `172.${30 + (renumber ?? 0)}.`;
  const ipFine = (ip) => Boolean(ip) && (renumber === undefined || ip.startsWith(prefix));
  contexts.forEach((context, ci) => {
    let list;
    try {
      list = JSON.parse(kubectl(context, ['get', 'services', '-A', '-o', 'json'])).items;
    } catch {
      return;
    }
    list.forEach((svc, si) => {
      if (svc.spec?.type !== 'LoadBalancer' || kind === 'none') return;
      const current = svc.status?.loadBalancer?.ingress?.[0];
      const fine = kind === 'ip' ? ipFine(current?.ip) : Boolean(current?.hostname) && !current?.ip;
      if (fine) return;
      if (Date.now() - Date.parse(svc.metadata.creationTimestamp) < delayMs) return;
      const ingress =
        kind === 'ip' ? [{ ip: `${prefix}${ci + 1}.${10 + (si % 200)}` }] : [{ hostname: `a${ci}${si}e2e-1234567890.us-east-1.elb.amazonaws.com` }];
      try {
        kubectl(context, [
          '-n',
          svc.metadata.namespace,
          'patch',
          'service',
          svc.metadata.name,
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify({ status: { loadBalancer: { ingress } } }),
        ]);
      } catch {
        // the next pass tries again
      }
    });
  });
}

function relaxWebhooks() {
  for (const context of contexts) {
    let hooks;
    try {
      hooks = JSON.parse(kubectl(context, ['get', 'mutatingwebhookconfigurations', '-o', 'json'])).items;
    } catch {
      continue;
    }
    for (const hook of hooks) {
      const strict = (hook.webhooks ?? []).map((w, i) => [w, i]).filter(([w]) => w.failurePolicy !== 'Ignore');
      if (strict.length === 0) continue;
      const patch = strict.map(([, i]) => ({ op: 'replace', path: `/webhooks/${i}/failurePolicy`, value: 'Ignore' }));
      try {
        kubectl(context, ['patch', 'mutatingwebhookconfiguration', hook.metadata.name, '--type=json', '-p', JSON.stringify(patch)]);
      } catch {
        // the next pass tries again
      }
    }
  }
}

process.on('SIGTERM', () => {
  istiods?.stopAll();
  process.exit(0);
});
setInterval(relaxWebhooks, 300);
setInterval(pass, 300);
