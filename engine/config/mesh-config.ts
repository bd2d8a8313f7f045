// Loads and validates the mesh-run YAML config: every field optional, the Istio page's values as defaults.
// This module reads the file and parses the YAML; the modules it imports read and check the fields.
import { parseDocument } from 'yaml';
import { ConfigError, UsageError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import type { Env } from './cluster-topology.js';
import { CONFIG_LIMIT_BYTES, hashText, readConfigFile } from './config-file.js';
import { resolveConfig } from './resolve-config.js';

export { DEFAULTS } from './config-defaults.js';
export { CONFIG_LIMIT_BYTES, hashText, readConfigFile } from './config-file.js';
export { isPathLike } from './field-readers.js';
export { type JoiningCluster, withClusterAdded } from './join-cluster.js';
export { resolveConfig } from './resolve-config.js';

export interface LoadedConfig {
  config: MeshConfig;
  // Absolute path of the file, when one was given.
  path?: string;
  // sha256 of the file's bytes (or of the resolved config when no file was given).
  hash: string;
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
