// The trust: section: a CA mesh-run generates (and where it keeps it), or the user's own CA files.
import type { TrustConfig } from '../../shared/model.js';
import { DEFAULTS } from './config-defaults.js';
import type { Problems } from './field-problems.js';
import { readPath, readSection, readWholeNumber } from './field-readers.js';
import { fieldNode, fieldsOf } from './schema.js';

const TRUST_KEYS = fieldsOf(fieldNode('trust'));

export function readTrust(raw: Record<string, unknown>, source: string, problems: Problems): TrustConfig | undefined {
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
