// Brings fresh e2e clusters up before the suite and tears them down after, orphans included.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const harness = (name: string) => fileURLToPath(new URL(`./harness/${name}`, import.meta.url));

export default function setup(): () => void {
  const started = Date.now();
  execFileSync('bash', [harness('down.sh')], { stdio: 'inherit' });
  execFileSync('bash', [harness('up.sh')], { stdio: 'inherit' });
  console.log(`e2e clusters ready in ${Math.round((Date.now() - started) / 1000)}s`);
  return () => {
    if (process.env.MESH_RUN_E2E_KEEP) return;
    execFileSync('bash', [harness('down.sh')], { stdio: 'inherit' });
  };
}
