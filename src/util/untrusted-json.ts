import type * as z from 'zod/mini';
import { formatKeyPath } from './key-path.js';

/**
 * JSON read from a tarball or a tree is untrusted: it goes through a schema before any
 * field is used, and a failure is one line naming the file and the key path.
 */
export function schemaProblem<T>(
  schema: z.ZodMiniType<T>,
  text: string,
  where: string,
): { value: T } | { problem: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { problem: `${where}: not valid JSON (${(err as Error).message})` };
  }
  const r = schema.safeParse(data);
  if (r.success) return { value: r.data };
  const first = r.error.issues[0]!;
  const path = first.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const message =
    first.code === 'unrecognized_keys' ? `unknown key(s) ${first.keys.map((k) => `"${k}"`).join(', ')}` : first.message;
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more)` : '';
  return { problem: `${where}: ${formatKeyPath(path)}: ${message}${more}` };
}
