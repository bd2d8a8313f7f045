// A small parser for the kubectl/istioctl flag forms mesh-run emits (and that people type).

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string>;
  // What follows `--` (the command of kubectl exec), untouched.
  rest: string[];
}

// Parses `args`; flags in `valued` take a value (--f=v, --f v, -f v), the rest are booleans.
export function parseArgs(args: readonly string[], valued: ReadonlySet<string>, aliases: Readonly<Record<string, string>>): ParsedArgs | { error: string } {
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return { positionals, flags, rest: args.slice(i + 1) };
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith('--');
    const body = arg.slice(long ? 2 : 1);
    const eq = body.indexOf('=');
    const rawName = eq >= 0 ? body.slice(0, eq) : body;
    const name = aliases[rawName] ?? rawName;
    if (!long && rawName.length !== 1) return { error: `unknown shorthand flag: '${rawName[0]}' in ${arg}` };
    if (valued.has(name)) {
      let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
      if (value === undefined) {
        value = args[i + 1];
        i++;
      }
      if (value === undefined) return { error: `flag needs an argument: ${arg}` };
      flags.set(name, value);
    } else if (KNOWN_BOOLEANS.has(name)) {
      flags.set(name, eq >= 0 ? body.slice(eq + 1) : 'true');
    } else {
      return { error: long ? `unknown flag: --${rawName}` : `unknown shorthand flag: '${rawName}' in ${arg}` };
    }
  }
  return { positionals, flags, rest: [] };
}

const KNOWN_BOOLEANS = new Set([
  'minify',
  'raw',
  'overwrite',
  'client',
  'skip-confirmation',
  'remote',
  'short',
  'purge',
  'ignore-not-found',
  'all-namespaces',
  'server-side',
  'force-conflicts',
]);

export function isTrue(flags: Map<string, string>, name: string): boolean {
  const v = flags.get(name);
  return v !== undefined && v !== 'false';
}
