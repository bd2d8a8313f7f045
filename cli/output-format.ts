// -o, --output: one flag for every read verb's output format (as each verb supports), with --json kept as
// an alias; data documents render the same way whatever the verb.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'yaml';
import { UsageError } from '../shared/errors.js';

export interface OutputFlags {
  output?: string;
  json?: boolean;
  csv?: boolean;
  format?: string;
}

// The form for people is "text" on every verb; "table", its older name on the verbs that print tables, is
// accepted everywhere as the same (completion and --help offer the one name).
const FORMAT_ALIASES: Readonly<Record<string, string>> = { table: 'text' };

const canonical = (format: string) => FORMAT_ALIASES[format] ?? format;

// An option whose value is one of `formats` (or an alias of one), parsed to the format's one name.
export function formatOption(flags: string, description: string, formats: readonly string[]): Option {
  const option = new Option(flags, description).choices(formats);
  return option.argParser((value: string) => {
    const format = canonical(value);
    if (formats.includes(format)) return format;
    // CSV is offered wherever a table is printed; say so where none is.
    const why = value === 'csv' ? ' (csv is offered where a table is printed; this verb prints none)' : '';
    throw new InvalidArgumentError(`Allowed choices are ${formats.join(', ')}${why}.`);
  });
}

// Adds -o/--output with the verb's formats (the first is the default) and --json as its alias.
export function addOutputOption(command: Command, formats: readonly string[], what = 'output format'): Command {
  const alias = formats.includes('text') ? '; table is the same as text' : '';
  return command
    .addOption(formatOption('-o, --output <format>', `${what}: ${formats.join(', ')} (default ${formats[0]}${alias})`, formats))
    .option('--json', 'the same as -o json');
}

// The format asked for: -o, or an alias (--json, --csv, a verb's older --format); two that disagree are refused.
export function formatOf(flags: OutputFlags, formats: readonly string[]): string {
  const asked = [
    ...(flags.output !== undefined ? [['-o', canonical(flags.output)]] : []),
    ...(flags.json ? [['--json', 'json']] : []),
    ...(flags.csv ? [['--csv', 'csv']] : []),
    ...(flags.format !== undefined ? [['--format', canonical(flags.format)]] : []),
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
