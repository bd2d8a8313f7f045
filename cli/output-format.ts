// -o, --output: one flag for every read verb's output format (as each verb supports), with --json kept as
// an alias; data documents render the same way whatever the verb.
import { type Command, Option } from 'commander';
import { stringify } from 'yaml';
import { UsageError } from '../shared/errors.js';

export interface OutputFlags {
  output?: string;
  json?: boolean;
  csv?: boolean;
  format?: string;
}

// Adds -o/--output with the verb's formats (the first is the default) and --json as its alias.
export function addOutputOption(command: Command, formats: readonly string[], what = 'output format'): Command {
  return command
    .addOption(new Option('-o, --output <format>', `${what}: ${formats.join(', ')} (default ${formats[0]})`).choices(formats))
    .option('--json', 'the same as -o json');
}

// The format asked for: -o, or an alias (--json, --csv, a verb's older --format); two that disagree are refused.
export function formatOf(flags: OutputFlags, formats: readonly string[]): string {
  const asked = [
    ...(flags.output !== undefined ? [['-o', flags.output]] : []),
    ...(flags.json ? [['--json', 'json']] : []),
    ...(flags.csv ? [['--csv', 'csv']] : []),
    ...(flags.format !== undefined ? [['--format', flags.format]] : []),
  ] as Array<[string, string]>;
  const distinct = [...new Set(asked.map(([, f]) => f))];
  if (distinct.length > 1)
    throw new UsageError(`${asked.map(([flag, f]) => (flag === '-o' || flag === '--format' ? `${flag} ${f}` : flag)).join(' and ')}: choose one output format`);
  const format = distinct[0] ?? (formats[0] as string);
  if (!formats.includes(format)) throw new UsageError(`-o ${format}: this verb writes ${formats.join(', ')}`);
  return format;
}

// A data document as JSON or YAML.
export function renderDocument(doc: unknown, format: 'json' | 'yaml' | string): string {
  return format === 'yaml' ? stringify(doc, { lineWidth: 0 }) : `${JSON.stringify(doc, null, 2)}\n`;
}
