import pLimit from 'p-limit';
import { XenrelError, toReported, type ExitCodeValue } from '../errors.js';

/**
 * Run `fn` for every name, `jobs` at a time, and let every one finish: one run names every
 * problem. One failure is rethrown as it is; several become one error listing each, with
 * the worst exit code.
 */
export async function forEachComponent<T>(
  names: string[],
  jobs: number,
  fn: (name: string) => Promise<T>,
): Promise<T[]> {
  const limit = pLimit(Math.max(1, jobs));
  const settled = await Promise.allSettled(names.map((n) => limit(() => fn(n))));
  const failed = settled.flatMap((r, i) =>
    r.status === 'rejected' ? [{ name: names[i]!, err: r.reason as unknown }] : [],
  );
  if (failed.length === 1) throw failed[0]!.err;
  if (failed.length > 1) {
    const reported = failed.map((f) => ({ name: f.name, ...toReported(f.err) }));
    const codes = [...new Set(reported.map((r) => r.code))];
    throw new XenrelError(
      codes.length === 1 ? codes[0]! : 'E_COMPONENTS',
      `${failed.length} of ${names.length} components failed:\n${reported.map((r) => `  ${r.name}: ${r.message.split('\n')[0]}`).join('\n')}`,
      {
        exitCode: Math.max(...reported.map((r) => r.exitCode)) as ExitCodeValue,
        hint: reported[0]!.hint,
        details: { failures: reported },
      },
    );
  }
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}
