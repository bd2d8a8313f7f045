// Building blocks shared by the machines: actor placeholders the engine replaces with its step activities.
import { fromPromise } from 'xstate';

export function placeholder<TOutput, TInput>(name: string) {
  return fromPromise<TOutput, TInput>(async () => {
    throw new Error(`step actor "${name}" was not provided`);
  });
}
