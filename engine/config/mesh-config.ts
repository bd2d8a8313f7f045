// Loads and validates the mesh-run YAML config: every field optional, the Istio page's values as defaults.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { parseDocument } from 'yaml';
import { parseDuration } from '../../shared/durations.js';
import { ConfigError, UsageError } from '../../shared/errors.js';
import {
  type ClusterRef,
  DEFAULT_VERIFY_TIMEOUT,
  type MeshCluster,
  type MeshConfig,
  type RetryPolicy,
  type TrustConfig,
  type VerifyConfig,
} from '../../shared/model.js';
import { derivedNames } from '../activities/manifests.js';
import {
  API_SERVER_URL,
  boundsOf,
  CONFIG_SCHEMA,
  DNS1123_LABEL as DNS1123,
  fieldNode,
  fieldsOf,
  LABEL_VALUE as LABEL,
  MAX_CLUSTERS,
  MESH_CLUSTER,
} from './schema.js';

export interface LoadedConfig {
  config: MeshConfig;
  // Absolute path of the file, when one was given.
  path?: string;
  // sha256 of the file's bytes (or of the resolved config when no file was given).
  hash: string;
}

const DNS1123_LABEL = new RegExp(DNS1123);
const LABEL_VALUE = new RegExp(LABEL);
const CONTROL_OR_SPACE = /[\s\p{Cc}]/u;

// The fields each section allows, from the schema editors get (engine/config/schema.ts).
const TOP_KEYS = fieldsOf(CONFIG_SCHEMA);
const TRUST_KEYS = fieldsOf(fieldNode('trust'));
const VERIFY_KEYS = fieldsOf(fieldNode('verify'));
const CLUSTER_KEYS = fieldsOf(fieldNode('primary'));
const REMOTE_KEYS = fieldsOf(fieldNode('remotes', 'items'));
const MESH_CLUSTER_KEYS = fieldsOf(MESH_CLUSTER);
const TIMEOUT_KEYS = fieldsOf(fieldNode('timeouts'));
const RETRY_KEYS = fieldsOf(fieldNode('retry'));
const TOOL_KEYS = ['kubectl', 'istioctl'] as const;
const ATTEMPTS = boundsOf('retry', 'attempts');
const FACTOR = boundsOf('retry', 'factor');
const PARALLEL = boundsOf('maxParallelRemotes');

export const DEFAULTS = {
  meshID: 'mesh1',
  network: 'network1',
  gatewayAddress: '5m',
  command: '10m',
  retry: { attempts: 3, initialDelay: '1s', maxDelay: '30s', factor: 2 },
  maxParallelRemotes: 16,
  // Istio's tools/certs/common.mk: 4096-bit keys, root valid 3650 days, intermediates 730.
  trust: { keySize: 4096, rootDays: 3650, intermediateDays: 730 },
  // Istio's doc tests retry each request for up to 120 s.
  verifyTimeout: DEFAULT_VERIFY_TIMEOUT,
} as const;

type Env = Record<string, string | undefined>;

// The largest config file mesh-run reads: a config is a few lines of YAML.
export const CONFIG_LIMIT_BYTES = 1_000_000;

// Why a config file cannot be read, in words, or its text. Only a regular file is read (a FIFO would
// block, /dev/zero never ends), and never more than the limit plus one byte.
export function readConfigFile(path: string): { text: string } | { problem: string } {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      problem:
        code === 'ENOENT'
          ? 'no such file'
          : code === 'EACCES'
            ? 'permission denied'
            : code === 'ENOTDIR'
              ? 'a part of the path is not a directory'
              : String(code ?? error),
    };
  }
  if (stat.isDirectory()) return { problem: 'it is a directory' };
  if (!stat.isFile())
    return {
      problem: `it is not a regular file (${stat.isFIFO() ? 'a pipe' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : stat.isSocket() ? 'a socket' : 'a special file'})`,
    };
  if (stat.size > CONFIG_LIMIT_BYTES) return { problem: `it is larger than ${CONFIG_LIMIT_BYTES / 1_000_000} MB; a mesh-run config is a few lines of YAML` };
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buffer = Buffer.alloc(CONFIG_LIMIT_BYTES + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > CONFIG_LIMIT_BYTES) return { problem: `it is larger than ${CONFIG_LIMIT_BYTES / 1_000_000} MB; a mesh-run config is a few lines of YAML` };
    }
    return { text: buffer.subarray(0, length).toString('utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { problem: code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String(code ?? error) };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// Reads, parses and validates a config file (or the defaults when `path` is undefined).
export function loadConfig(path: string | undefined, env: Env = process.env): LoadedConfig {
  if (path === undefined) {
    const config = resolveConfig({}, env, '');
    return { config, hash: hashText(JSON.stringify(config)) };
  }
  const read = readConfigFile(path);
  if ('problem' in read)
    throw new UsageError(`--config ${path}: cannot read the file (${read.problem}); pass the path of a YAML config, e.g. examples/primary-remote.yaml`);
  const config = parseConfigText(read.text, env, path);
  return { config, path, hash: hashText(read.text) };
}

// Parses YAML text into a validated config; `source` prefixes every message.
export function parseConfigText(text: string, env: Env = process.env, source = 'config'): MeshConfig {
  if (text.length > CONFIG_LIMIT_BYTES) throw new ConfigError([`${source}: the file is larger than 1 MB; a mesh-run config is a few lines of YAML`]);
  // Binary data is named, never echoed back (a YAML error would quote it).
  if (looksBinary(text)) {
    throw new ConfigError([`${source}: is not a text file (it holds binary data); a mesh-run config is YAML text, e.g. examples/primary-remote.yaml`]);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    // One line: the first error, and how many more the parser found.
    const others = doc.errors.length - 1;
    throw new ConfigError([
      `${source}: ${oneLine(yamlErrorText(doc.errors[0] as (typeof doc.errors)[number]))}${others > 0 ? ` (and ${others} more YAML error${others > 1 ? 's' : ''})` : ''}; fix the YAML syntax`,
    ]);
  }
  if (doc.contents === null || text.split('\n').every((line) => /^\s*((---|\.\.\.)\s*)?(#.*)?$/.test(line))) {
    throw new ConfigError([
      `${source}: the config file is empty (no fields, or only comments); write at least one field such as "meshID: mesh1", or leave out --config to use the Istio page's defaults`,
    ]);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    throw new ConfigError([`${source}: ${oneLine((error as Error).message)}; remove the aliases that expand the document`]);
  }
  if (raw === null || raw === undefined) raw = {};
  return resolveConfig(raw, env, source);
}

// NUL, or more than a few control characters other than whitespace: not YAML a person wrote.
function looksBinary(text: string): boolean {
  let controls = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return true;
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127) controls++;
  }
  return controls > 8;
}

export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function yamlErrorText(error: { message: string; linePos?: Array<{ line: number; col: number }> | undefined }): string {
  const pos = error.linePos?.[0];
  const first = (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?\s*$/, '');
  return pos ? `line ${pos.line}, column ${pos.col}: ${first}` : first;
}

function oneLine(text: string): string {
  return text
    .replace(/[\p{Cc}\s]+/gu, ' ')
    .trim()
    .slice(0, 300);
}

// Collects problems while walking the raw document, so a user sees all of them at once.
class Problems {
  readonly list: string[] = [];
  constructor(private readonly source: string) {}
  add(field: string, problem: string): void {
    const prefix = this.source ? `${this.source}: ` : '';
    this.list.push(`${prefix}${field}: ${problem}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string, problems: Problems): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const suggestion = closest(key, allowed);
    const field = path ? `${path}.${key}` : key;
    problems.add(field, `unknown field${suggestion ? `; did you mean "${suggestion}"?` : `; allowed fields are ${allowed.join(', ')}`}`);
  }
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

function readString(value: unknown, field: string, problems: Problems, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') {
    problems.add(field, `expected a string, got ${describe(value)}; quote the value`);
    return fallback;
  }
  return value;
}

function checkLabel(value: string, field: string, problems: Problems): void {
  if (value.length > 63 || !DNS1123_LABEL.test(value)) {
    const hint =
      value
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, '-')
        .replace(/^-+|-+$/g, '')
        .slice(0, 63) || 'cluster2';
    problems.add(
      field,
      `${describe(value)} is not a DNS-1123 label; use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. "${hint}")`,
    );
  }
}

function checkLabelValue(value: string, field: string, problems: Problems): void {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    problems.add(
      field,
      `${describe(value)} is not usable as a Kubernetes label value; use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    );
  }
}

function checkContext(value: string, field: string, problems: Problems): void {
  if (value.length === 0 || value.length > 512 || CONTROL_OR_SPACE.test(value) || value.startsWith('-')) {
    problems.add(field, `${describe(value)} is not a kube context name; use the name shown by "kubectl config get-contexts -o name"`);
  }
}

function readDuration(value: unknown, field: string, problems: Problems, fallback: string, maxMs: number): number {
  const text = value === undefined ? fallback : value;
  if (typeof text !== 'string') {
    problems.add(field, `expected a duration such as "90s" or "5m", got ${describe(text)}`);
    return parseDuration(fallback) as number;
  }
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0 || ms > maxMs) {
    problems.add(field, `${describe(text)} is not a duration between 1ms and ${maxMs / 3_600_000}h; write it like "500ms", "90s", "5m" or "1h"`);
    return parseDuration(fallback) as number;
  }
  return ms;
}

function readCluster(
  raw: unknown,
  field: string,
  problems: Problems,
  defaults: { name: string; context: string | undefined },
  allowed: readonly string[],
): Record<string, unknown> & ClusterRef {
  if (raw !== undefined && !isRecord(raw)) {
    problems.add(field, `expected a mapping with name and context, got ${describe(raw)}`);
    return { name: defaults.name, context: defaults.context ?? defaults.name };
  }
  const obj = raw ?? {};
  checkKeys(obj, allowed, field, problems);
  const name = readString(obj.name, `${field}.name`, problems, defaults.name);
  checkLabel(name, `${field}.name`, problems);
  if (name === 'all')
    problems.add(
      `${field}.name`,
      '"all" is reserved: history --cluster all and the CLUSTER columns use it for steps that span every cluster; pick another name',
    );
  const context = readString(obj.context, `${field}.context`, problems, obj.name === undefined ? (defaults.context ?? name) : name);
  checkContext(context, `${field}.context`, problems);
  return { ...obj, name, context };
}

// A nested mapping such as timeouts: checked for shape and unknown keys; {} when absent or wrong.
function readSection(raw: Record<string, unknown>, name: string, keys: readonly string[], problems: Problems): Record<string, unknown> {
  const value = raw[name];
  if (value === undefined) return {};
  if (!isRecord(value)) {
    problems.add(name, `expected a mapping (${keys.join(', ')}), got ${describe(value)}`);
    return {};
  }
  checkKeys(value, keys, name, problems);
  return value;
}

// A file path a person could mean: not empty, no control characters, not an option.
export function isPathLike(value: string): boolean {
  return value.length > 0 && value.length <= 4096 && !/[\p{Cc}]/u.test(value) && !value.startsWith('-');
}

// Applies defaults and validation rules to a parsed document.
export function resolveConfig(raw: unknown, env: Env, source: string): MeshConfig {
  const problems = new Problems(source);
  if (!isRecord(raw)) {
    throw new ConfigError([
      `${source ? `${source}: ` : ''}the document must be a mapping of fields (meshID, network, primary, remotes, ...), got ${describe(raw)}`,
    ]);
  }
  checkKeys(raw, TOP_KEYS, '', problems);

  const meshID = readString(raw.meshID, 'meshID', problems, DEFAULTS.meshID);
  checkLabelValue(meshID, 'meshID', problems);
  const network = readString(raw.network, 'network', problems, DEFAULTS.network);
  checkLabelValue(network, 'network', problems);

  const clusters = raw.clusters !== undefined ? readMeshClusters(raw, network, problems) : readPrimaryRemote(raw, network, env, problems);

  let revision: string | undefined;
  if (raw.revision !== undefined && raw.revision !== null && raw.revision !== '') {
    revision = readString(raw.revision, 'revision', problems, '');
    if (revision) checkLabel(revision, 'revision', problems);
    if (revision === 'default') problems.add('revision', '"default" is the unrevisioned control plane; leave revision unset instead');
    // Every name derived from the revision must fit Kubernetes' limits, or the API server refuses it mid-install.
    const tooLong = derivedNames(revision).filter((n) => n.name.length > n.limit);
    if (revision && tooLong.length > 0) {
      const room = Math.min(...derivedNames(revision).map((n) => n.limit - (n.name.length - (revision as string).length)));
      const worst = tooLong.reduce((a, b) => (b.name.length - b.limit > a.name.length - a.limit ? b : a));
      problems.add(
        'revision',
        `${describe(revision)} makes ${worst.what} ${worst.name.length} characters, over Kubernetes' limit of ${worst.limit}; use a revision of at most ${room} characters`,
      );
    }
  }

  const timeoutsRaw = readSection(raw, 'timeouts', TIMEOUT_KEYS, problems);
  const timeouts = {
    gatewayAddressMs: readDuration(timeoutsRaw.gatewayAddress, 'timeouts.gatewayAddress', problems, DEFAULTS.gatewayAddress, 24 * 3_600_000),
    commandMs: readDuration(timeoutsRaw.command, 'timeouts.command', problems, DEFAULTS.command, 24 * 3_600_000),
  };

  const retryRaw = readSection(raw, 'retry', RETRY_KEYS, problems);
  let attempts: number = DEFAULTS.retry.attempts;
  if (retryRaw.attempts !== undefined) {
    if (
      typeof retryRaw.attempts !== 'number' ||
      !Number.isInteger(retryRaw.attempts) ||
      retryRaw.attempts < ATTEMPTS.minimum ||
      retryRaw.attempts > ATTEMPTS.maximum
    ) {
      problems.add('retry.attempts', `${describe(retryRaw.attempts)} is not a whole number from ${ATTEMPTS.minimum} to ${ATTEMPTS.maximum} (1 means no retry)`);
    } else attempts = retryRaw.attempts;
  }
  let factor: number = DEFAULTS.retry.factor;
  if (retryRaw.factor !== undefined) {
    if (typeof retryRaw.factor !== 'number' || !(retryRaw.factor >= FACTOR.minimum && retryRaw.factor <= FACTOR.maximum)) {
      problems.add('retry.factor', `${describe(retryRaw.factor)} is not a number from ${FACTOR.minimum} to ${FACTOR.maximum}`);
    } else factor = retryRaw.factor;
  }
  const retry: RetryPolicy = {
    attempts,
    factor,
    initialDelayMs: readDuration(retryRaw.initialDelay, 'retry.initialDelay', problems, DEFAULTS.retry.initialDelay, 3_600_000),
    maxDelayMs: readDuration(retryRaw.maxDelay, 'retry.maxDelay', problems, DEFAULTS.retry.maxDelay, 3_600_000),
  };

  const toolsRaw = readSection(raw, 'tools', [...TOOL_KEYS, 'kubeconfig'], problems);
  const kubeconfig = toolsRaw.kubeconfig === undefined ? undefined : readString(toolsRaw.kubeconfig, 'tools.kubeconfig', problems, '');
  if (kubeconfig !== undefined && !isPathLike(kubeconfig)) problems.add('tools.kubeconfig', `${describe(kubeconfig)} is not a file path`);
  const tools = {
    kubectl: readString(toolsRaw.kubectl, 'tools.kubectl', problems, 'kubectl'),
    istioctl: readString(toolsRaw.istioctl, 'tools.istioctl', problems, 'istioctl'),
    ...(kubeconfig ? { kubeconfig } : {}),
  };
  for (const key of TOOL_KEYS) {
    const value = tools[key];
    if (value.length === 0 || value.length > 4096 || /[\p{Cc}]/u.test(value) || value.startsWith('-'))
      problems.add(`tools.${key}`, `${describe(value)} is not a program name or path`);
  }

  let maxParallelRemotes: number = DEFAULTS.maxParallelRemotes;
  if (raw.maxParallelRemotes !== undefined) {
    if (
      typeof raw.maxParallelRemotes !== 'number' ||
      !Number.isInteger(raw.maxParallelRemotes) ||
      raw.maxParallelRemotes < PARALLEL.minimum ||
      raw.maxParallelRemotes > PARALLEL.maximum
    ) {
      problems.add('maxParallelRemotes', `${describe(raw.maxParallelRemotes)} is not a whole number from ${PARALLEL.minimum} to ${PARALLEL.maximum}`);
    } else maxParallelRemotes = raw.maxParallelRemotes;
  }

  const trust = readTrust(raw, source, problems);
  checkSharedTrust(clusters, trust, problems);
  const verifyRaw = readSection(raw, 'verify', VERIFY_KEYS, problems);
  const verify: VerifyConfig = { timeoutMs: readDuration(verifyRaw.timeout, 'verify.timeout', problems, DEFAULTS.verifyTimeout, 3_600_000) };
  if (verifyRaw.samplesDir !== undefined) {
    const dir = readPath(verifyRaw.samplesDir, 'verify.samplesDir', source, problems);
    if (dir) verify.samplesDir = dir;
  }

  if (problems.list.length > 0) throw new ConfigError(problems.list);
  return {
    maxParallelRemotes,
    ...(trust ? { trust } : {}),
    verify,
    meshID,
    clusters,
    ...(raw.clusters !== undefined ? { form: 'clusters' as const } : {}),
    ...(revision ? { revision } : {}),
    timeouts,
    retry,
    tools,
  };
}

// The primary-remote form (primary:, remotes:, one network), as the Istio page writes it; CTX_CLUSTER1 and
// CTX_CLUSTER2 give the contexts, as in the page's commands.
function readPrimaryRemote(raw: Record<string, unknown>, network: string, env: Env, problems: Problems): MeshCluster[] {
  const primary = readCluster(raw.primary, 'primary', problems, { name: 'cluster1', context: env.CTX_CLUSTER1 || undefined }, CLUSTER_KEYS);
  const remotes: MeshCluster[] = [];
  const asRemote = (cluster: ClusterRef, apiServer: unknown, field: string): MeshCluster => {
    const remote: MeshCluster = { name: cluster.name, context: cluster.context, role: 'remote', network, controlPlane: primary.name };
    const server = readApiServer(apiServer, field, problems);
    if (server) remote.apiServer = server;
    return remote;
  };
  if (raw.remotes === undefined) {
    remotes.push(
      asRemote(
        readCluster(undefined, 'remotes[0]', problems, { name: 'cluster2', context: env.CTX_CLUSTER2 || undefined }, REMOTE_KEYS),
        undefined,
        'remotes[0]',
      ),
    );
  } else if (!Array.isArray(raw.remotes) || raw.remotes.length === 0) {
    problems.add('remotes', `expected a non-empty list of {name, context}, got ${Array.isArray(raw.remotes) ? 'an empty list' : describe(raw.remotes)}`);
  } else if (raw.remotes.length > MAX_CLUSTERS - 1) {
    problems.add('remotes', `${raw.remotes.length} remotes is more than the ${MAX_CLUSTERS - 1} mesh-run supports; split the mesh into several runs`);
  } else {
    raw.remotes.forEach((entry: unknown, i: number) => {
      const field = `remotes[${i}]`;
      const fallbackName = i === 0 ? 'cluster2' : `cluster${i + 2}`;
      const ctxDefault = i === 0 ? env.CTX_CLUSTER2 || undefined : undefined;
      const remote = readCluster(entry, field, problems, { name: fallbackName, context: ctxDefault }, REMOTE_KEYS);
      remotes.push(asRemote(remote, remote.apiServer, field));
    });
  }
  const clusters: MeshCluster[] = [{ name: primary.name, context: primary.context, role: 'primary', network }, ...remotes];
  checkUnique(clusters, (i) => (i === 0 ? 'primary' : `remotes[${i - 1}]`), problems);
  return clusters;
}

// The clusters: form: every cluster with its role and network, remotes naming their primary.
function readMeshClusters(raw: Record<string, unknown>, network: string, problems: Problems): MeshCluster[] {
  if (raw.primary !== undefined || raw.remotes !== undefined) {
    problems.add('clusters', 'give either clusters or primary/remotes, not both; clusters can say everything primary/remotes can');
  }
  const list = raw.clusters;
  if (!Array.isArray(list) || list.length === 0) {
    problems.add('clusters', `expected a non-empty list of clusters ({name, role, ...}), got ${Array.isArray(list) ? 'an empty list' : describe(list)}`);
    return [];
  }
  if (list.length > MAX_CLUSTERS) {
    problems.add('clusters', `${list.length} clusters is more than the ${MAX_CLUSTERS} mesh-run supports; split the mesh`);
    return [];
  }
  const clusters: MeshCluster[] = list.map((entry: unknown, i: number) => {
    const field = `clusters[${i}]`;
    if (!isRecord(entry)) {
      problems.add(field, `expected a mapping with name and role, got ${describe(entry)}`);
      return { name: `cluster${i + 1}`, context: `cluster${i + 1}`, role: 'primary', network };
    }
    const cluster = readCluster(entry, field, problems, { name: `cluster${i + 1}`, context: undefined }, MESH_CLUSTER_KEYS);
    if (entry.name === undefined) problems.add(`${field}.name`, 'missing; every cluster needs a name (the clusterName Istio uses)');
    let role: 'primary' | 'remote' = 'primary';
    if (entry.role !== 'primary' && entry.role !== 'remote') {
      problems.add(`${field}.role`, `${entry.role === undefined ? 'missing' : describe(entry.role)}; write "primary" (it runs a control plane) or "remote"`);
    } else role = entry.role;
    const own = readString(entry.network, `${field}.network`, problems, network);
    if (entry.network !== undefined) checkLabelValue(own, `${field}.network`, problems);
    const result: MeshCluster = { name: cluster.name, context: cluster.context, role, network: own };
    if (entry.controlPlane !== undefined) {
      const plane = readString(entry.controlPlane, `${field}.controlPlane`, problems, '');
      if (role === 'primary')
        problems.add(`${field}.controlPlane`, 'only a remote names a control plane; a primary runs its own: remove it, or make the cluster a remote');
      else if (plane) result.controlPlane = plane;
    }
    const server = readApiServer(entry.apiServer, field, problems);
    if (server) result.apiServer = server;
    return result;
  });
  checkUnique(clusters, (i) => `clusters[${i}]`, problems);
  const primaries = clusters.filter((c) => c.role === 'primary').map((c) => c.name);
  if (primaries.length === 0 && clusters.length > 0)
    problems.add('clusters', 'no primary: at least one cluster must have role: primary (it runs the control plane)');
  clusters.forEach((c, i) => {
    if (c.role !== 'remote' || primaries.length === 0) return;
    const field = `clusters[${i}].controlPlane`;
    if (c.controlPlane === undefined) {
      if (primaries.length === 1) c.controlPlane = primaries[0] as string;
      else problems.add(field, `missing; with several primaries each remote names the one that serves it (${primaries.join(', ')})`);
      return;
    }
    const target = clusters.find((x) => x.name === c.controlPlane);
    if (!target) problems.add(field, `"${c.controlPlane}" is not a cluster of this mesh; name one of its primaries (${primaries.join(', ')})`);
    else if (target.role !== 'primary') problems.add(field, `"${c.controlPlane}" is a remote; a remote is served by a primary (${primaries.join(', ')})`);
  });
  return clusters;
}

// Several control planes trust each other's workloads only under one root (Istio's "plug in CA certificates").
// A generated root must outlive the process that made it: a resumed run gives the next primary an
// intermediate of the same root, which it reads back from outputDir.
function checkSharedTrust(clusters: readonly MeshCluster[], trust: TrustConfig | undefined, problems: Problems): void {
  const primaries = clusters.filter((c) => c.role === 'primary').length;
  if (primaries < 2) return;
  if (!trust)
    problems.add(
      'trust',
      `${primaries} primaries need one root of trust; add trust: {outputDir: ./certs} to generate it, or trust: {caDir: <dir>} for your own CA`,
    );
  else if (trust.source === 'generate' && !trust.outputDir)
    problems.add(
      'trust.outputDir',
      'missing; with several primaries the generated root must be kept so every primary (and a resumed run) signs under it: add outputDir: ./certs',
    );
}

// Names and contexts are each the mesh's own: one cluster, one name, one kube context.
function checkUnique(clusters: readonly MeshCluster[], fieldOf: (i: number) => string, problems: Problems): void {
  const names = new Map<string, string>();
  const contexts = new Map<string, string>();
  clusters.forEach((c, i) => {
    const nameOwner = names.get(c.name);
    if (nameOwner) problems.add(`${fieldOf(i)}.name`, `"${c.name}" is already used by ${nameOwner}; every cluster needs a unique name`);
    else names.set(c.name, `${fieldOf(i)}.name`);
    const ctxOwner = contexts.get(c.context);
    if (ctxOwner) problems.add(`${fieldOf(i)}.context`, `"${c.context}" is already the context of ${ctxOwner}; each cluster needs its own kube context`);
    else contexts.set(c.context, `${fieldOf(i)}.context`);
  });
}

function readApiServer(value: unknown, field: string, problems: Problems): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !new RegExp(API_SERVER_URL).test(value)) {
    problems.add(`${field}.apiServer`, `${describe(value)} is not an API server URL; write it like "https://10.0.0.12:6443"`);
    return undefined;
  }
  return value;
}

// A directory named in the config, resolved against the config file's directory (the cwd without a file).
function readPath(value: unknown, field: string, source: string, problems: Problems): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096 || /[\p{Cc}]/u.test(value)) {
    problems.add(field, `expected a directory path, got ${describe(value)}`);
    return undefined;
  }
  const base = source && source !== 'config' ? dirname(resolvePath(source)) : process.cwd();
  return isAbsolute(value) ? value : resolvePath(base, value);
}

function readWholeNumber(value: unknown, field: string, problems: Problems, fallback: number, allowed: (n: number) => boolean, expected: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || !allowed(value)) {
    problems.add(field, `${describe(value)} is not ${expected}`);
    return fallback;
  }
  return value;
}

function readTrust(raw: Record<string, unknown>, source: string, problems: Problems): TrustConfig | undefined {
  if (raw.trust === undefined || raw.trust === null) return undefined;
  // `trust: {}` (or `trust: generate`) asks for a generated root with the defaults.
  if (raw.trust === 'generate') return { source: 'generate', ...DEFAULTS.trust };
  const section = readSection(raw, 'trust', TRUST_KEYS, problems);
  if (section.caDir !== undefined) {
    for (const key of ['outputDir', 'keySize', 'rootDays', 'intermediateDays'] as const) {
      if (section[key] !== undefined) problems.add(`trust.${key}`, 'only applies when mesh-run generates the CA; remove it, or remove trust.caDir to generate');
    }
    const caDir = readPath(section.caDir, 'trust.caDir', source, problems);
    return caDir ? { source: 'files', caDir } : undefined;
  }
  const keySize = readWholeNumber(
    section.keySize,
    'trust.keySize',
    problems,
    DEFAULTS.trust.keySize,
    (n) => n === 2048 || n === 3072 || n === 4096,
    'an RSA key size: 2048, 3072 or 4096',
  ) as 2048 | 3072 | 4096;
  const rootDays = readWholeNumber(
    section.rootDays,
    'trust.rootDays',
    problems,
    DEFAULTS.trust.rootDays,
    (n) => n >= 1 && n <= 36500,
    'a whole number of days from 1 to 36500',
  );
  const intermediateDays = readWholeNumber(
    section.intermediateDays,
    'trust.intermediateDays',
    problems,
    DEFAULTS.trust.intermediateDays,
    (n) => n >= 1 && n <= rootDays,
    `a whole number of days from 1 to the root's ${rootDays}`,
  );
  const outputDir = section.outputDir === undefined ? undefined : readPath(section.outputDir, 'trust.outputDir', source, problems);
  return { source: 'generate', keySize, rootDays, intermediateDays, ...(outputDir ? { outputDir } : {}) };
}

// A cluster joining an installed mesh, as the cluster add flags give it.
export interface JoiningCluster {
  name: string;
  context: string;
  role: 'primary' | 'remote';
  network?: string;
  controlPlane?: string;
  apiServer?: string;
}

const JOIN_FLAGS: Record<string, string> = {
  name: '--name',
  context: '--context',
  role: '--role',
  network: '--network',
  controlPlane: '--control-plane',
  apiServer: '--api-server',
};

// The mesh with `joining` added, checked as a config file's clusters are (unique names and contexts, a
// remote's control plane a primary, labels); each problem names the flag to change. Exit 2 on any.
export function withClusterAdded(config: MeshConfig, joining: JoiningCluster): MeshConfig {
  if (joining.role === 'primary' && !config.trust) {
    throw new ConfigError([
      `--role primary: mesh ${config.meshID} was installed without a trust: section, and several primaries need one root of trust; install the mesh with trust: to grow it with primaries, or join ${joining.name} as a remote`,
    ]);
  }
  const primaries = config.clusters.filter((c) => c.role === 'primary');
  const plane = config.clusters.find((c) => c.name === (joining.controlPlane ?? (primaries.length === 1 ? primaries[0]?.name : undefined)));
  const network = plane?.network ?? (primaries[0] as MeshCluster).network;
  const index = config.clusters.length;
  const problems = new Problems('');
  const entry: Record<string, unknown> = { name: joining.name, context: joining.context, role: joining.role };
  if (joining.network !== undefined) entry.network = joining.network;
  if (joining.controlPlane !== undefined) entry.controlPlane = joining.controlPlane;
  if (joining.apiServer !== undefined) entry.apiServer = joining.apiServer;
  const clusters = readMeshClusters({ clusters: [...config.clusters.map((c) => ({ ...c })), entry] }, network, problems);
  if (problems.list.length > 0) {
    const prefix = `clusters[${index}].`;
    throw new ConfigError(
      problems.list.map((p) => {
        const field = Object.keys(JOIN_FLAGS).find((f) => p.startsWith(`${prefix}${f}:`));
        const text = field ? `${JOIN_FLAGS[field]}:${p.slice(prefix.length + field.length + 1)}` : p;
        // "already used by clusters[1].name": the mesh's own cluster, by name.
        return text.replace(/clusters\[(\d+)\]\.(name|context)/g, (_, i: string) => `cluster ${config.clusters[Number(i)]?.name ?? i}`);
      }),
    );
  }
  return { ...config, clusters };
}
