// A parsed document made a config: every field read with its default, every rule checked, all problems at once.
import { ConfigError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import { checkSharedTrust, type Env, readMeshClusters, readPrimaryRemote } from './cluster-topology.js';
import { DEFAULTS } from './config-defaults.js';
import { readMaxParallelRemotes, readRetry, readRevision, readTimeouts, readTools, readVerify } from './config-sections.js';
import { checkKeys, describe, isRecord, Problems } from './field-problems.js';
import { checkLabelValue, readString } from './field-readers.js';
import { CONFIG_SCHEMA, fieldsOf } from './schema.js';
import { readTrust } from './trust-section.js';

// The top-level fields, from the schema editors get (engine/config/schema.ts).
const TOP_KEYS = fieldsOf(CONFIG_SCHEMA);

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
  const revision = readRevision(raw, problems);
  const timeouts = readTimeouts(raw, problems);
  const retry = readRetry(raw, problems);
  const tools = readTools(raw, problems);
  const maxParallelRemotes = readMaxParallelRemotes(raw, problems);
  const trust = readTrust(raw, source, problems);
  checkSharedTrust(clusters, trust, problems);
  const verify = readVerify(raw, source, problems);

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
