// kubectl as the simulator answers it: the subset of verbs mesh-run uses, with kubectl's messages and exit codes.
import { parseAllDocuments } from 'yaml';
import type { CommandResult } from '../cluster-tools.js';
import { isTrue, parseArgs } from './argv.js';
import { publishToRemotes, RESTARTED_AT, reachableEndpoints, reconcileDeployments, syncRemoteWebhooks } from './controllers.js';
import { invalidReason, type KubeObject, nameOf, pluralOf, type ResourceType, resourceType, typeOfKind } from './objects.js';
import { LAST_APPLIED } from './secret-data.js';
import type { SimCluster } from './sim-cluster.js';
import type { WorldSettings } from './world.js';

const VALUED = new Set(['context', 'namespace', 'output', 'filename', 'selector', 'timeout', 'request-timeout', 'kubeconfig', 'container', 'field-manager']);
const ALIASES = { n: 'namespace', o: 'output', f: 'filename', l: 'selector', A: 'all-namespaces', c: 'container' };

export interface KubectlEnv {
  settings: WorldSettings;
  cluster(context: string): SimCluster | undefined;
}

const ok = (stdout: string): CommandResult => ({ exitCode: 0, stdout, stderr: '' });
const fail = (stderr: string): CommandResult => ({ exitCode: 1, stdout: '', stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n` });

// Evaluates the simple jsonpath forms kubectl users write: {.a.b[0].c}, {.metadata.labels}, and keys with
// escaped dots such as {.metadata.annotations.mesh-run\.io/ca-fingerprint}.
export function jsonpath(obj: unknown, template: string): string {
  // {range .items[*]}...{end}: the inner template once per item.
  const range = /^\{range \.([\w.]+)\[\*\]\}(.*)\{end\}$/s.exec(template);
  if (range) {
    const items = (range[1] as string).split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), obj);
    return Array.isArray(items) ? items.map((item) => jsonpath(item, range[2] as string)).join('') : '';
  }
  // {"text"}: a literal, with \n for a newline and \t for a tab.
  const newline = '\u{E000}';
  template = template.replace(/\{"((?:[^"\\]|\\.)*)"\}/g, (_, text: string) => text.replace(/\\n/g, newline).replace(/\\t/g, '\t'));
  return jsonpathFields(obj, template).replaceAll(newline, '\n');
}

function jsonpathFields(obj: unknown, template: string): string {
  return template.replace(/\{((?:[^}\\]|\\.)*)\}/g, (_, expr: string) => {
    let value: unknown = obj;
    const path = expr.trim().replace(/^\./, '');
    const parts = path
      .split(/(?<!\\)\.(?![^[]*\])/)
      .filter(Boolean)
      .map((p) => p.replace(/\\\./g, '.'));
    for (const part of parts) {
      const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
      if (!m) return '';
      if (m[1]) value = (value as Record<string, unknown> | undefined)?.[m[1]];
      for (const idx of (m[2] as string).matchAll(/\[(\d+)\]/g)) value = (value as unknown[] | undefined)?.[Number(idx[1])];
    }
    if (value === undefined || value === null) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
}

// The one go-template form mesh-run uses, printing a map's keys and never its values:
// {{range $k, $v := .metadata.annotations}}{{$k}}{{"\n"}}{{end}}
function goTemplate(obj: unknown, template: string): string | undefined {
  const m = /^\{\{range \$(\w+), \$\w+ := \.([\w.]+)\}\}\{\{\$(\w+)\}\}\{\{"\\n"\}\}\{\{end\}\}$/.exec(template.trim());
  if (!m || m[1] !== m[3]) return undefined;
  const map = (m[2] as string).split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), obj);
  if (!map || typeof map !== 'object') return '';
  return Object.keys(map as object)
    .sort()
    .map((k) => `${k}\n`)
    .join('');
}

function matchesSelector(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return obj.metadata.labels?.[k as string] === v;
  });
}

function render(objs: KubeObject[], type: ResourceType, output: string | undefined, single: boolean): string {
  if (output === 'name') return objs.map((o) => `${nameOf(type, o.metadata.name)}\n`).join('');
  if (output === 'json') {
    const doc = single ? objs[0] : { apiVersion: 'v1', kind: 'List', items: objs, metadata: { resourceVersion: '' } };
    return `${JSON.stringify(doc, null, 4)}\n`;
  }
  if (output?.startsWith('jsonpath=')) {
    const template = output.slice('jsonpath='.length).replace(/^'(.*)'$/, '$1');
    return jsonpath(single ? objs[0] : { apiVersion: 'v1', kind: 'List', items: objs }, template);
  }
  if (output?.startsWith('go-template=')) {
    const rendered = goTemplate(single ? objs[0] : { items: objs }, output.slice('go-template='.length));
    if (rendered === undefined) throw new Error('the simulator renders only {{range $k, $v := .path}}{{$k}}{{"\\n"}}{{end}} go-templates');
    return rendered;
  }
  if (output !== undefined)
    throw new Error(`unable to match a printer suitable for the output format "${output}", allowed formats are: go-template,json,jsonpath,name`);
  if (objs.length === 0) return '';
  return `NAME\n${objs.map((o) => o.metadata.name).join('\n')}\n`;
}

function notFound(type: ResourceType, name: string): string {
  return `Error from server (NotFound): ${pluralOf(type)} "${name}" not found`;
}

function serverHost(env: KubectlEnv, context: string): string {
  return (env.settings.contexts.find((c) => c.name === context)?.server ?? '').replace(/^https?:\/\//, '');
}

// Runs one kubectl command against the simulated clusters.
export function runKubectl(env: KubectlEnv, args: readonly string[], stdin: string | undefined): CommandResult {
  const parsed = parseArgs(args, VALUED, ALIASES);
  if ('error' in parsed) return fail(`error: ${parsed.error}\nSee 'kubectl --help' for usage.`);
  const { positionals, flags, rest } = parsed;
  const verb = positionals[0];
  // kubectl's jsonpath parser takes \n (two characters) in a {"..."} literal; a real newline there it refuses.
  const template = flags.get('output')?.startsWith('jsonpath=') ? (flags.get('output') as string).slice('jsonpath='.length) : undefined;
  if (template !== undefined && /\{"[^"]*\n[^"]*"\}/.test(template)) return fail(`error: error parsing jsonpath ${template}, unterminated quoted string`);

  if (verb === 'config' && positionals[1] === 'get-contexts') {
    return ok(env.settings.contexts.map((c) => `${c.name}\n`).join(''));
  }
  if (verb === 'config' && positionals[1] === 'view') {
    const name = flags.get('context') ?? env.settings.contexts[0]?.name ?? '';
    const ctx = env.settings.contexts.find((c) => c.name === name);
    if (!ctx) return fail(`error: context "${name}" does not exist`);
    const user = ctx.user?.exec
      ? { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: ctx.user.exec } }
      : ctx.user?.authProvider
        ? { 'auth-provider': { name: ctx.user.authProvider } }
        : { 'client-certificate-data': 'DATA+OMITTED' };
    const view = {
      clusters: [{ name: ctx.name, cluster: { server: ctx.server } }],
      contexts: [{ name: ctx.name, context: { cluster: ctx.name, user: ctx.name } }],
      users: [{ name: ctx.name, user }],
      'current-context': ctx.name,
    };
    const output = flags.get('output');
    return ok(output?.startsWith('jsonpath=') ? jsonpath(view, output.slice('jsonpath='.length)) : `${JSON.stringify(view, null, 2)}\n`);
  }
  if (verb === 'version' && isTrue(flags, 'client')) {
    return ok(`${JSON.stringify({ clientVersion: { gitVersion: 'v1.32.3', major: '1', minor: '32' } }, null, 2)}\n`);
  }

  const contextName = flags.get('context') ?? env.settings.contexts[0]?.name ?? '';
  const cluster = env.cluster(contextName);
  if (!cluster) return fail(`error: context "${contextName}" does not exist`);
  const unreachable = env.settings.contexts.find((c) => c.name === contextName)?.unreachable;
  if (unreachable) return fail(`Unable to connect to the server: dial tcp ${serverHost(env, contextName)}: i/o timeout`);
  const namespace = flags.get('namespace') ?? 'default';

  switch (verb) {
    case 'version': {
      const v = env.settings.kubernetesVersion;
      const [major, minor] = v.replace(/^v/, '').split('.');
      return ok(
        `${JSON.stringify({ clientVersion: { gitVersion: 'v1.32.3', major: '1', minor: '32' }, serverVersion: { gitVersion: v, major, minor } }, null, 2)}\n`,
      );
    }
    case 'get':
      if (/^mutatingwebhookconfiguration/.test(positionals[1] ?? '')) syncRemoteWebhooks(env, cluster);
      // Only reads of workloads need the controllers to have caught up.
      if (/^(pods?|po|deploy(ment)?s?)([./]|$)/.test(positionals[1] ?? '')) reconcileDeployments(env, cluster, namespace);
      return get(cluster, positionals.slice(1), namespace, flags);
    case 'create': {
      if (flags.get('filename') === '-') return create(cluster, stdin ?? '', flags.has('namespace') ? namespace : undefined);
      if (positionals[1] !== 'namespace' && positionals[1] !== 'ns') return fail(`error: the simulator supports "create namespace" and "create -f -" only`);
      const name = positionals[2];
      if (!name) return fail('error: exactly one NAME is required, got 0');
      const type = resourceType('namespace') as ResourceType;
      if (cluster.get(type, '', name)) return fail(`Error from server (AlreadyExists): namespaces "${name}" already exists`);
      cluster.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });
      return ok(`namespace/${name} created\n`);
    }
    case 'annotate':
      return setMetadata('annotations', cluster, positionals.slice(1), namespace, isTrue(flags, 'overwrite'));
    case 'apply': {
      if (flags.get('filename') !== '-') return fail('error: the simulator applies manifests from stdin only (-f -)');
      const serverSide = isTrue(flags, 'server-side');
      if (!serverSide && flags.has('force-conflicts')) return fail('error: --force-conflicts only works with --server-side');
      const applied = apply(
        cluster,
        stdin ?? '',
        flags.has('namespace') ? namespace : undefined,
        serverSide ? { serverSide: true, manager: flags.get('field-manager') ?? 'kubectl' } : { serverSide: false },
      );
      // A remote secret applied here: the istiod of this cluster starts reading that remote at once.
      if (applied.exitCode === 0) publishToRemotes(env, cluster);
      return applied;
    }
    case 'rollout':
      if (positionals[1] === 'restart') {
        const restarted = rolloutRestart(cluster, positionals.slice(2), namespace);
        reconcileDeployments(env, cluster, namespace);
        return restarted;
      }
      reconcileDeployments(env, cluster, namespace);
      return rolloutStatus(cluster, positionals.slice(1), namespace);
    case 'label':
      return setMetadata('labels', cluster, positionals.slice(1), namespace, isTrue(flags, 'overwrite'));
    case 'delete':
      return remove(cluster, positionals.slice(1), namespace, isTrue(flags, 'ignore-not-found'));
    case 'exec':
      reconcileDeployments(env, cluster, namespace);
      return exec(env, cluster, positionals[1], namespace, flags.get('container'), rest);
    default:
      return fail(`error: unknown command "${verb ?? ''}" for "kubectl"`);
  }
}

function splitTarget(positionals: string[]): Array<{ type: ResourceType; name?: string } | { error: string }> {
  if (positionals.length === 0) return [{ error: 'error: you must specify the type of resource to get' }];
  if (positionals.every((p) => p.includes('/'))) {
    return positionals.map((p) => {
      const [t, n] = p.split('/') as [string, string];
      const type = resourceType(t);
      return type ? { type, name: n } : { error: `error: the server doesn't have a resource type "${t}"` };
    });
  }
  // Several types at once (kubectl get crd,mutatingwebhookconfigurations): every object of each, no names.
  const kinds = (positionals[0] as string).split(',');
  if (kinds.length > 1) {
    if (positionals.length > 1) return [{ error: 'error: arguments in resource/name form must have a single resource and name' }];
    return kinds.map((k) => {
      const type = resourceType(k);
      return type ? { type } : { error: `error: the server doesn't have a resource type "${k}"` };
    });
  }
  const type = resourceType(positionals[0] as string);
  if (!type) return [{ error: `error: the server doesn't have a resource type "${positionals[0]}"` }];
  const names = positionals.slice(1);
  return names.length === 0 ? [{ type }] : names.map((name) => ({ type, name }));
}

function get(cluster: SimCluster, positionals: string[], namespace: string, flags: Map<string, string>): CommandResult {
  cluster.reconcileLoadBalancers();
  const targets = splitTarget(positionals);
  const found: Array<{ type: ResourceType; obj: KubeObject }> = [];
  const errors: string[] = [];
  for (const target of targets) {
    if ('error' in target) return fail(target.error);
    if (target.name === undefined) {
      const scope = isTrue(flags, 'all-namespaces') ? undefined : namespace;
      for (const obj of cluster.list(target.type, scope)) if (matchesSelector(obj, flags.get('selector'))) found.push({ type: target.type, obj });
      continue;
    }
    const obj = cluster.get(target.type, namespace, target.name);
    if (obj) found.push({ type: target.type, obj });
    else errors.push(notFound(target.type, target.name));
  }
  const single = targets.length === 1 && 'name' in (targets[0] as object) && (targets[0] as { name?: string }).name !== undefined;
  let stdout = '';
  try {
    const output = flags.get('output');
    if (output === 'name') stdout = found.map(({ type, obj }) => `${nameOf(type, obj.metadata.name)}\n`).join('');
    else if (found.length > 0 || !single)
      stdout = render(
        found.map((f) => f.obj),
        found[0]?.type ?? (targets[0] as { type: ResourceType }).type,
        output,
        single,
      );
  } catch (error) {
    return fail(`error: ${(error as Error).message}`);
  }
  if (found.length === 0 && !single && errors.length === 0 && flags.get('output') === undefined) {
    return { exitCode: 0, stdout: '', stderr: `No resources found in ${namespace} namespace.\n` };
  }
  return { exitCode: errors.length > 0 ? 1 : 0, stdout, stderr: errors.map((e) => `${e}\n`).join('') };
}

// What kubectl annotate and kubectl label say, each in its own words.
const METADATA_VERBS = {
  annotations: {
    verb: 'annotate',
    done: 'annotated',
    badPair: (pair: string) => `error: invalid annotation format: ${pair}`,
    taken: (key: string, old: string) => `error: --overwrite is false but found the following declared annotation(s): '${key}' already has a value (${old})`,
  },
  labels: {
    verb: 'label',
    done: 'labeled',
    badPair: (pair: string) => `error: invalid label spec: ${pair}`,
    taken: (key: string, old: string) => `error: '${key}' already has a value (${old}), and --overwrite is false`,
  },
} as const;

// kubectl annotate / label <type> <name> k=v...: both refuse to replace a different value without --overwrite
// (older kubectl refused even an equal one).
function setMetadata(field: 'annotations' | 'labels', cluster: SimCluster, positionals: string[], namespace: string, overwrite: boolean): CommandResult {
  const words = METADATA_VERBS[field];
  const [typeName, name, ...pairs] = positionals;
  const type = typeName ? resourceType(typeName) : undefined;
  if (!type || !name) return fail(`error: you must specify the type and name of the resource to ${words.verb}`);
  const obj = cluster.get(type, namespace, name);
  if (!obj) return fail(notFound(type, name));
  const values = { ...(obj.metadata[field] ?? {}) };
  for (const pair of pairs) {
    // key- removes the key; a missing key is not an error.
    if (/^[^=]+-$/.test(pair)) {
      delete values[pair.slice(0, -1)];
      continue;
    }
    const eq = pair.indexOf('=');
    if (eq <= 0) return fail(words.badPair(pair));
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (!overwrite && key in values && values[key] !== value) return fail(words.taken(key, values[key] as string));
    values[key] = value;
  }
  const metadata = { ...obj.metadata, [field]: values };
  if (Object.keys(values).length === 0) delete metadata[field];
  cluster.replace({ ...obj, metadata });
  return ok(`${nameOf(type, name)} ${words.done}\n`);
}

function parseManifest(manifest: string): KubeObject[] | CommandResult {
  try {
    return parseAllDocuments(manifest)
      .map((d) => {
        if (d.errors.length > 0) throw new Error(d.errors[0]?.message ?? 'invalid YAML');
        return d.toJS() as KubeObject | null;
      })
      .filter((d): d is KubeObject => d !== null && typeof d === 'object');
  } catch (error) {
    return fail(`error: error parsing STDIN: ${(error as Error).message.split('\n')[0]}`);
  }
}

// kubectl create -f -: like apply, but an object that exists is an AlreadyExists error.
function create(cluster: SimCluster, manifest: string, namespace: string | undefined): CommandResult {
  const docs = parseManifest(manifest);
  if (!Array.isArray(docs)) return docs;
  const lines: string[] = [];
  for (const doc of docs) {
    const type = typeOfKind(doc.kind, doc.apiVersion);
    if (!type || !doc.metadata?.name)
      return {
        exitCode: 1,
        stdout: lines.join(''),
        stderr: `error: unable to recognize "STDIN": no matches for kind "${doc.kind}" in version "${doc.apiVersion}"\n`,
      };
    const target = type.namespaced ? (doc.metadata.namespace ?? namespace ?? 'default') : '';
    if (cluster.get(type, target, doc.metadata.name)) {
      return {
        exitCode: 1,
        stdout: lines.join(''),
        stderr: `Error from server (AlreadyExists): error when creating "STDIN": ${pluralOf(type)} "${doc.metadata.name}" already exists\n`,
      };
    }
    if (type.namespaced && !cluster.get(resourceType('namespace') as ResourceType, '', target)) {
      return { exitCode: 1, stdout: lines.join(''), stderr: `Error from server (NotFound): error when creating "STDIN": namespaces "${target}" not found\n` };
    }
    const invalid = invalidReason(doc);
    if (invalid) return { exitCode: 1, stdout: lines.join(''), stderr: `Error from server (Invalid): error when creating "STDIN": ${invalid}\n` };
    cluster.put(type.namespaced ? { ...doc, metadata: { ...doc.metadata, namespace: target } } : doc);
    lines.push(`${nameOf(type, doc.metadata.name)} created\n`);
  }
  return ok(lines.join(''));
}

// kubectl delete <type> <name>... or <type>/<name>...: a namespace takes everything in it along, a
// Deployment its pods (finalization and garbage collection are immediate here).
function remove(cluster: SimCluster, positionals: string[], namespace: string, ignoreNotFound: boolean): CommandResult {
  const targets = positionals.every((p) => p.includes('/')) ? splitTarget(positionals) : positionals.length > 1 ? splitTarget(positionals) : [];
  if (targets.length === 0 || targets.some((t) => 'error' in t || t.name === undefined)) {
    const bad = targets.find((t) => 'error' in t) as { error: string } | undefined;
    return fail(bad?.error ?? 'error: resource(s) were provided, but no name was specified');
  }
  const lines: string[] = [];
  const errors: string[] = [];
  for (const target of targets as Array<{ type: ResourceType; name: string }>) {
    const { type, name } = target;
    const obj = cluster.get(type, namespace, name);
    if (!obj) {
      if (!ignoreNotFound) errors.push(`${notFound(type, name)}\n`);
      continue;
    }
    if (type.kind === 'Namespace')
      for (const inside of cluster.all()) if (inside.metadata.namespace === name && typeOfKind(inside.kind)?.namespaced) cluster.remove(inside);
    if (type.kind === 'Deployment') {
      const podType = resourceType('pod') as ResourceType;
      for (const pod of cluster.list(podType, namespace))
        if (pod.metadata.name.startsWith(`${name}-`) && pod.metadata.labels?.['pod-template-hash']) cluster.remove(pod);
    }
    cluster.remove(obj);
    lines.push(`${type.resource.split('.')[0]} "${name}" deleted\n`);
  }
  return { exitCode: errors.length > 0 ? 1 : 0, stdout: lines.join(''), stderr: errors.join('') };
}

// kubectl exec <pod> -c <container> -- curl -sS <service>.<ns>:<port>/hello, answered by the mesh model.
function exec(
  env: KubectlEnv,
  cluster: SimCluster,
  podName: string | undefined,
  namespace: string,
  container: string | undefined,
  command: string[],
): CommandResult {
  const podType = resourceType('pod') as ResourceType;
  if (!podName) return fail('error: pod, type/name or --filename must be specified');
  const pod = cluster.get(podType, namespace, podName);
  if (!pod) return fail(notFound(podType, podName));
  const containers = ((pod.spec as { containers?: Array<{ name: string }> } | undefined)?.containers ?? []).map((c) => c.name);
  if (container && !containers.includes(container)) return fail(`error: unable to upgrade connection: container not found ("${container}")`);
  if (command[0] !== 'curl') return fail(`error: the simulator runs only curl in pods (got "${command[0] ?? ''}")`);
  const url = command.filter((a) => !a.startsWith('-')).slice(1)[0] ?? '';
  const address = /^(?:https?:\/\/)?(?<service>[a-z0-9-]+)\.(?<ns>[a-z0-9-]+)(?::\d+)?(?:\/\S*)?$/.exec(url)?.groups;
  if (!address) return { exitCode: 3, stdout: '', stderr: `curl: (3) URL rejected: Malformed input to a URL function\ncommand terminated with exit code 3\n` };
  const { service = '', ns = '' } = address;
  const svcType = resourceType('service') as ResourceType;
  if (!cluster.get(svcType, ns, service))
    return { exitCode: 6, stdout: '', stderr: `curl: (6) Could not resolve host: ${service}.${ns}\ncommand terminated with exit code 6\n` };
  const reachable = reachableEndpoints(env, cluster, pod, service, ns);
  if (!reachable) return { exitCode: 56, stdout: '', stderr: 'curl: (56) Recv failure: Connection reset by peer\ncommand terminated with exit code 56\n' };
  const endpoints = reachable.filter((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running');
  if (endpoints.length === 0) return ok('no healthy upstream');
  // Round robin, as Envoy's default load balancing spreads successive requests.
  const served = Number(pod.metadata.annotations?.['sim.mesh-run/requests'] ?? '0');
  cluster.replace({ ...pod, metadata: { ...pod.metadata, annotations: { ...(pod.metadata.annotations ?? {}), 'sim.mesh-run/requests': String(served + 1) } } });
  const target = endpoints[served % endpoints.length] as KubeObject;
  return ok(`Hello version: ${target.metadata.labels?.version ?? 'unknown'}, instance: ${target.metadata.name}\n`);
}

interface ApplyMode {
  serverSide: boolean;
  manager?: string;
}

// Labels and annotations set by others survive an apply: client-side apply drops only the keys its
// previous apply set (recorded in the last-applied annotation), server-side apply only those it owns.
function mergeMetadata(doc: KubeObject, existing: KubeObject | undefined, mode: ApplyMode): KubeObject['metadata'] {
  const meta = { ...doc.metadata };
  if (!existing) return meta;
  let previous: KubeObject['metadata'] | undefined;
  try {
    previous = (JSON.parse(existing.metadata.annotations?.[LAST_APPLIED] ?? 'null') as KubeObject | null)?.metadata;
  } catch {
    previous = undefined;
  }
  for (const field of ['labels', 'annotations'] as const) {
    const kept: Record<string, string> = {};
    for (const [k, v] of Object.entries(existing.metadata[field] ?? {})) {
      const setBefore = !mode.serverSide && previous?.[field]?.[k] !== undefined;
      if (!setBefore) kept[k] = v;
    }
    const merged = { ...kept, ...(doc.metadata[field] ?? {}) };
    if (Object.keys(merged).length > 0) meta[field] = merged;
  }
  return meta;
}

function apply(cluster: SimCluster, manifest: string, namespace: string | undefined, mode: ApplyMode): CommandResult {
  const docs = parseManifest(manifest);
  if (!Array.isArray(docs)) return docs;
  if (docs.length === 0) return fail('error: no objects passed to apply');
  const lines: string[] = [];
  for (const doc of docs) {
    const type = typeOfKind(doc.kind, doc.apiVersion);
    if (!type || !doc.metadata?.name) {
      return {
        exitCode: 1,
        stdout: lines.join(''),
        stderr: `error: resource mapping not found for name: "${doc.metadata?.name ?? ''}" namespace: "${namespace ?? ''}" from "STDIN": no matches for kind "${doc.kind}" in version "${doc.apiVersion}"\nensure CRDs are installed first\n`,
      };
    }
    if (type.namespaced) {
      const target = doc.metadata.namespace ?? namespace ?? 'default';
      if (namespace && doc.metadata.namespace && doc.metadata.namespace !== namespace) {
        return fail(
          `error: the namespace from the provided object "${doc.metadata.namespace}" does not match the namespace "${namespace}". You must pass '--namespace=${doc.metadata.namespace}' to perform this operation.`,
        );
      }
      if (!cluster.get(resourceType('namespace') as ResourceType, '', target)) {
        return { exitCode: 1, stdout: lines.join(''), stderr: `Error from server (NotFound): error when creating "STDIN": namespaces "${target}" not found\n` };
      }
      doc.metadata = { ...doc.metadata, namespace: target };
    }
    const invalid = invalidReason(doc);
    if (invalid) return { exitCode: 1, stdout: lines.join(''), stderr: `Error from server (Invalid): error when creating "STDIN": ${invalid}\n` };
    const existing = cluster.get(type, doc.metadata.namespace ?? '', doc.metadata.name);
    const applied: KubeObject = { ...doc, metadata: mergeMetadata(doc, existing, mode) };
    const annotations = { ...(applied.metadata.annotations ?? {}) };
    if (!mode.serverSide) {
      // Client-side apply keeps a copy of the whole object it applied, as kubectl does.
      annotations[LAST_APPLIED] = `${JSON.stringify(doc)}\n`;
    } else if (existing?.metadata.annotations?.[LAST_APPLIED] !== undefined && mode.manager === 'kubectl') {
      // The API server keeps an existing copy up to date only for kubectl's own field manager.
      annotations[LAST_APPLIED] = `${JSON.stringify(doc)}\n`;
    }
    if (Object.keys(annotations).length > 0) applied.metadata.annotations = annotations;
    const outcome = cluster.put(applied);
    lines.push(`${nameOf(type, doc.metadata.name)} ${mode.serverSide ? 'serverside-applied' : outcome}\n`);
  }
  return ok(lines.join(''));
}

// kubectl rollout restart deployment[/name]: a new pod-template annotation, so the controller replaces the pods
// (and the injector, as the namespace's labels say now, injects the new ones).
function rolloutRestart(cluster: SimCluster, positionals: string[], namespace: string): CommandResult {
  const target = positionals[0] ?? '';
  const [typeName, name] = target.includes('/') ? (target.split('/') as [string, string]) : [target, positionals[1]];
  const type = resourceType(typeName);
  if (type?.kind !== 'Deployment') return fail(`error: the simulator restarts deployments only`);
  const chosen = name ? [cluster.get(type, namespace, name)].filter((d): d is KubeObject => d !== undefined) : cluster.list(type, namespace);
  if (name && chosen.length === 0) return fail(notFound(type, name));
  if (chosen.length === 0) return fail(`error: no deployments found in ${namespace} namespace.`);
  const lines: string[] = [];
  for (const deployment of chosen) {
    const spec = (deployment.spec ?? {}) as { template?: { metadata?: { annotations?: Record<string, string> } } };
    const template = spec.template ?? {};
    // kubectl writes the time; the simulator counts restarts, so a world's end state is reproducible.
    const previous = /^restart-(\d+)$/.exec(template.metadata?.annotations?.[RESTARTED_AT] ?? '')?.[1];
    const annotations = { ...(template.metadata?.annotations ?? {}), [RESTARTED_AT]: `restart-${Number(previous ?? 0) + 1}` };
    const { status: _status, ...rest } = deployment;
    cluster.replace({ ...rest, spec: { ...spec, template: { ...template, metadata: { ...template.metadata, annotations } } } });
    lines.push(`deployment.apps/${deployment.metadata.name} restarted\n`);
  }
  return ok(lines.join(''));
}

function rolloutStatus(cluster: SimCluster, positionals: string[], namespace: string): CommandResult {
  if (positionals[0] !== 'status') return fail('error: the simulator supports "rollout status" only');
  const target = positionals[1] ?? '';
  const [t, name] = target.includes('/') ? (target.split('/') as [string, string]) : [target, positionals[2] ?? ''];
  const type = resourceType(t);
  if (type?.kind !== 'Deployment') return fail(`error: no status viewer has been implemented for ${t}`);
  const obj = cluster.get(type, namespace, name);
  if (!obj) return fail(notFound(type, name));
  const status = (obj.status ?? {}) as { readyReplicas?: number };
  if ((status.readyReplicas ?? 0) < 1) return fail(`error: timed out waiting for the condition`);
  return ok(`deployment "${name}" successfully rolled out\n`);
}
