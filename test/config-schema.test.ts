// The config schema `mesh-run config schema` prints: the shipped examples satisfy it, the committed copy
// editors read is current, and it refuses what the validator refuses (so an editor flags it before a run).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfigText } from '../engine/config/mesh-config.js';
import { configJsonSchema } from '../engine/config/schema.js';
import { runCli } from './support/cli.js';

const EXAMPLES = new URL('../examples', import.meta.url).pathname;
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(configJsonSchema());
const yamlFiles = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));

describe('the config schema', () => {
  it('is what `mesh-run config schema` prints, and the copy in examples/ is current', async () => {
    const printed = await runCli(['config', 'schema']);
    expect(printed.code, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual(configJsonSchema());
    expect(JSON.parse(readFileSync(join(EXAMPLES, 'mesh-run.schema.json'), 'utf8'))).toEqual(configJsonSchema());
  });

  it.each(yamlFiles)('accepts the shipped example %s, which names it for editors', (file) => {
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./mesh-run.schema.json');
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
    expect(() => parseConfigText(text, {}, file)).not.toThrow();
  });

  // Each is refused by both: the schema (in an editor) and mesh-run (before anything runs).
  it.each([
    ['an unknown field', 'clusters:\n  - {name: a, role: primary, zone: x}\n'],
    ['a role that is neither', 'clusters:\n  - {name: a, role: leader}\n'],
    ['a cluster without a role', 'clusters:\n  - {name: a}\n'],
    ['a name that is not a DNS label', 'clusters:\n  - {name: Cluster_1, role: primary}\n'],
    ['a network with spaces', 'clusters:\n  - {name: a, role: primary, network: "net 1"}\n'],
    ['an empty cluster list', 'clusters: []\n'],
    ['both forms at once', 'clusters:\n  - {name: a, role: primary}\nprimary: {name: b}\n'],
    ['an API server that is not https', 'clusters:\n  - {name: a, role: primary, apiServer: "http://10.0.0.1"}\n'],
    ['a duration without a unit', 'timeouts: {command: 10}\n'],
    ['retry attempts out of range', 'retry: {attempts: 0}\n'],
  ])('refuses %s', (_, text) => {
    expect(validate(parse(text))).toBe(false);
    expect(() => parseConfigText(text, {}, 'bad.yaml')).toThrow();
  });
});
