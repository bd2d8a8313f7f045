// The terminal of the person building a mesh by hand: each command goes straight to the clusters through
// ClusterTools (no journal, no run), and is written down as they would type it, never with a secret in it.
import type { ClusterTools, Command, CommandResult, RunOptions } from '../../adapters/cluster-tools.js';
import { StepError } from '../../shared/errors.js';
import type { MeshConfig } from '../../shared/model.js';
import { sleep } from '../../shared/sleep.js';
import { commandFailed } from '../activities/failures.js';
import { isNotFound } from '../activities/kube-ops.js';
import { kubectl } from '../activities/step-runtime.js';

export const ISTIO_SYSTEM = 'istio-system';
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
// The docs' test harness retries a check every second (VERIFY_DELAY).
const POLL_MS = 1000;

// One shell argument as a person would type it: quoted only when the shell would need it.
function quoted(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

// Where a command's stdin comes from, as the person's shell line shows it: a file they wrote, a command piped
// in (gen-eastwest-gateway.sh, sed), or a note for what they would not keep in a file (the CA's keys).
export type StdinSource = { file: string } | { from: string } | { note: string };

// "kubectl --context=cluster1 apply -n istio-system -f - < expose-istiod.yaml": argv never holds a secret
// (tokens travel in a pipe, keys on stdin), and stdin is named by where it comes from, never shown.
export function display(command: Command, stdin?: StdinSource): string {
  const line = [command.tool, ...command.args].map(quoted).join(' ');
  if (!stdin) return line;
  if ('file' in stdin) return `${line} < ${stdin.file}`;
  if ('from' in stdin) return `${stdin.from} | ${line}`;
  return `${line}  # stdin: ${stdin.note}`;
}

export class Shell {
  // Every command issued, in order, as display strings.
  readonly history: string[] = [];

  constructor(
    private readonly tools: ClusterTools,
    private readonly config: MeshConfig,
    private readonly signal: AbortSignal,
  ) {}

  // No runId: the simulator injects no failure into a command of no run, so faults queued for a mesh-run run
  // in the same world stay with that run. The step and cluster are placeholders RunOptions asks for.
  private options(cluster: string): RunOptions {
    return { signal: this.signal, timeoutMs: this.config.timeouts.commandMs, step: 'preflight', cluster };
  }

  // Runs a command and writes it down; `stdin`: where its stdin comes from.
  async run(cluster: string, command: Command, stdin?: StdinSource): Promise<CommandResult> {
    this.history.push(display(command, stdin));
    return this.tools.run(command, this.options(cluster));
  }

  // Runs a command that must succeed.
  async must(cluster: string, command: Command, what: string, stdin?: StdinSource): Promise<CommandResult> {
    const result = await this.run(cluster, command, stdin);
    if (result.exitCode !== 0) throw commandFailed(`${what} on ${cluster}`, result);
    return result;
  }

  // `source | sink`: the source's stdout (a token) goes into the sink and nowhere else.
  async pipe(cluster: string, source: Command, sink: Command, what: string): Promise<{ stderr: string; stdout: string }> {
    this.history.push(`${display(source)} | ${display(sink)}`);
    const piped = await this.tools.pipe(source, sink, this.options(cluster));
    if (piped.source.exitCode !== 0) throw commandFailed(`${what}: ${source.tool} ${source.args[0] ?? ''}`, piped.source);
    if (piped.sink.exitCode !== 0) throw commandFailed(`${what}: ${sink.tool} ${sink.args[1] ?? ''}`, piped.sink);
    return { stderr: piped.source.stderr, stdout: piped.sink.stdout };
  }

  // Whether an object exists, asked by name only (for a Secret, its data never comes back).
  async exists(cluster: string, context: string, args: string[], what: string): Promise<boolean> {
    const result = await this.run(cluster, kubectl(context, ['get', ...args, '-o', 'name'], 'observe'));
    if (isNotFound(result)) return false;
    if (result.exitCode !== 0) throw commandFailed(`kubectl get ${what} on ${cluster}`, result);
    return result.stdout.trim().length > 0;
  }

  // "Wait for the east-west gateway to be assigned an external IP address": the page's get, polled every
  // second until EXTERNAL-IP is an IPv4 address, for at most timeouts.gatewayAddress. Written down once.
  async gatewayAddress(cluster: string, context: string): Promise<string> {
    const command = kubectl(
      context,
      ['-n', ISTIO_SYSTEM, 'get', 'svc', 'istio-eastwestgateway', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'],
      'wait',
    );
    const bound = this.config.timeouts.gatewayAddressMs;
    const deadline = Date.now() + bound;
    this.history.push(`${display(command)}  # until it prints an IPv4 address (at most ${Math.round(bound / 1000)}s)`);
    for (;;) {
      const result = await this.tools.run(command, this.options(cluster));
      if (result.exitCode !== 0 && !isNotFound(result)) throw commandFailed(`reading the east-west gateway's address on ${cluster}`, result);
      const address = result.stdout.trim();
      if (result.exitCode === 0 && IPV4.test(address)) return address;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new StepError(
          `the east-west gateway on ${cluster} has no load-balancer IP after ${Math.round(bound / 1000)}s${result.exitCode !== 0 ? ' (its service is missing)' : ''}`,
          {
            retryable: true,
            hint: 'the remotes reach istiod through that IP: give the cluster a load-balancer provider that hands out IPs (MetalLB on kind), then build again',
          },
        );
      await sleep(Math.min(POLL_MS, left), this.signal);
    }
  }
}
