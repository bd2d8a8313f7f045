// npm test: build the CLI, run vitest, and end with the plain "N passed, N failed" line CI reads.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const report = join(root, 'node_modules', '.cache', 'mesh-run', 'vitest.json');

// Lint and format (Biome), types (the whole tree, tests included), then the build the tests run.
for (const [what, command, args] of [
  ['lint and format', bin('biome'), ['check', '.']],
  ['type check', bin('tsc'), ['-p', 'tsconfig.json']],
  ['build', bin('tsc'), ['-p', 'tsconfig.build.json']],
]) {
  const step = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (step.status !== 0) {
    console.log(`${what} failed`);
    console.log('0 passed, 1 failed');
    process.exit(step.status ?? 1);
  }
}

mkdirSync(dirname(report), { recursive: true });
rmSync(report, { force: true });
const args = ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync(bin('vitest'), args, { cwd: root, stdio: 'inherit' });

let passed = 0;
let failed = 0;
let skipped = 0;
// CI keeps only the tail of the log: name each failure there, one line each, so a red run says which test.
const failures = [];
try {
  const result = JSON.parse(readFileSync(report, 'utf8'));
  passed = result.numPassedTests ?? 0;
  failed = (result.numFailedTests ?? 0) + (result.numRuntimeErrorTestSuites ?? 0);
  skipped = (result.numPendingTests ?? 0) + (result.numTodoTests ?? 0);
  for (const file of result.testResults ?? []) {
    const where = file.name.startsWith(root) ? file.name.slice(root.length + 1) : file.name;
    const tests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of tests) failures.push(`${where} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`);
    if (!tests.length && file.status === 'failed') failures.push(`${where}: ${firstLine(file.message)}`);
  }
} catch {
  failed = Math.max(1, failed);
}
for (const f of failures) console.log(`FAILED ${f}`);
const code = run.status ?? 1;
if (code !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(code);

function firstLine(text) {
  const line =
    String(text ?? '')
      .split('\n')
      .find((l) => l.trim()) ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
