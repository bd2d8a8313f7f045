// Names, contexts and paths with shell metacharacters travel as argv elements and never meet a shell.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('no shell', () => {
  it('passes a context full of shell syntax to kubectl as one literal argument', async () => {
    const log = join(tmp.dir, 'argv.log');
    const kubectl = join(tmp.dir, 'kubectl');
    // Records each argument on its own line and answers with the context list.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax that must reach kubectl as literal text
    const context = '$(touch${IFS}PWNED);x';
    const contexts = join(tmp.dir, 'contexts.txt');
    writeFileSync(contexts, `cluster1\n${context}\n`);
    writeFileSync(
      kubectl,
      [
        '#!/usr/bin/env bash',
        `for a in "$@"; do printf '%s\\n' "$a" >> '${log}'; done`,
        `case "$*" in *" get "*) echo 'Error from server (NotFound): not found' >&2; exit 1 ;; esac`,
        `cat '${contexts}'`,
        '',
      ].join('\n'),
    );
    chmodSync(kubectl, 0o755);
    const istioctl = join(tmp.dir, 'istioctl');
    writeFileSync(
      istioctl,
      '#!/usr/bin/env bash\n[ "$1" = version ] && echo \'{"clientVersion":{"version":"1.27.3"}}\' && exit 0\necho "Error: no cluster" >&2; exit 1\n',
    );
    chmodSync(istioctl, 0o755);
    const config = join(tmp.dir, 'mesh.yaml');
    writeFileSync(
      config,
      `primary: {name: cluster1, context: cluster1}\nremotes: [{name: cluster2, context: ${JSON.stringify(context)}}]\ntools: {kubectl: ${kubectl}, istioctl: ${istioctl}}\n`,
    );
    const result = await runCli(['install', '--config', config, '--db', join(tmp.dir, 'a.db')], { cwd: tmp.dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('failed at install-primary@cluster1');
    expect(existsSync(join(tmp.dir, 'PWNED'))).toBe(false);
    const args = readFileSync(log, 'utf8').split('\n');
    expect(args).toContain(`--context=${context}`);
    expect(args).toContain('--context=cluster1');
  });

  it('runs a tool path with shell syntax as a file name (and reports it missing)', async () => {
    const config = join(tmp.dir, 'tools.yaml');
    writeFileSync(config, 'tools: {kubectl: "kubectl;touch PWNED", istioctl: "$(touch PWNED)"}\n');
    const result = await runCli(['install', '--config', config, '--db', join(tmp.dir, 'b.db')], { cwd: tmp.dir });
    // A missing tool is an environment problem found before any run is recorded.
    expect(result.code).toBe(3);
    expect(existsSync(join(tmp.dir, 'b.db'))).toBe(false);
    expect(result.stderr).toContain('kubectl not found (looked for "kubectl;touch PWNED")');
    expect(existsSync(join(tmp.dir, 'PWNED'))).toBe(false);
  });
});
