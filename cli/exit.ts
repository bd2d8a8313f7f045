// Lets a command finish with an exit code without calling process.exit: only the entry point (main.ts) exits.
export class ExitRequest extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'ExitRequest';
  }
}
