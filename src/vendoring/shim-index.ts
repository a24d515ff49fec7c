import * as z from 'zod/mini';
import '../util/zod-messages.js';
import { FULL_COMMIT_SHA1 } from '../util/patterns.js';

/**
 * The schema of `.xenrel/shim.tsv` (written by renderIndex in shim.ts; read by the shell
 * shim, scripts/shim/common.sh, which applies the same rules before it uses a line). An
 * index read from a tarball or a tree is input from outside: `verify` checks it here and
 * names the first line and field that do not fit.
 *
 *   name kind url ref commit digest path store status      (tab-separated, "-" for none)
 */
const noTabs = z.string().check(z.minLength(1, 'empty'), z.regex(/^[^\t\r\n]*$/, 'holds a tab or newline'));
const relPath = noTabs.check(
  z.refine(
    (p) => !p.startsWith('/') && !p.split('/').some((s) => s === '..' || s === '.'),
    'must be relative, without . or .. segments',
  ),
);

export const shimIndexLine = z
  .tuple([
    z.string().check(z.regex(/^[a-z0-9][a-z0-9._-]*$/, 'expected a component name')),
    z.enum(['tree', 'file'], { message: 'expected tree or file' }),
    noTabs,
    noTabs,
    z.string().check(z.refine((c) => c === '-' || FULL_COMMIT_SHA1.test(c), 'expected a 40-hex commit or -')),
    z
      .string()
      .check(
        z.regex(
          /^(-|tree:[0-9a-f]{64}|sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/,
          'expected tree:<64 hex>, sha256:<64 hex>, sha512:<128 hex> or -',
        ),
      ),
    relPath,
    relPath,
    z.enum(['vendored', 'without'], { message: 'expected vendored or without' }),
  ])
  .check(
    z.superRefine(([name, , , , , digest, , store, status], ctx) => {
      if (store !== `sources/${name}` && !store.startsWith(`sources/${name}/`))
        ctx.addIssue({ code: 'custom', path: [7], message: `must be under sources/${name}` });
      if (digest === '-' && status === 'vendored')
        ctx.addIssue({ code: 'custom', path: [5], message: 'a vendored component needs a digest' });
    }),
  );

const FIELDS = ['name', 'kind', 'url', 'ref', 'commit', 'digest', 'path', 'store', 'status'] as const;

export interface ShimIndexEntry {
  name: string;
  kind: 'tree' | 'file';
  url: string;
  ref: string;
  commit: string;
  digest: string;
  path: string;
  store: string;
  status: 'vendored' | 'without';
}

/** Entries of a shim index, or the first problem: `line N (name): field: message`. */
export function parseShimIndex(text: string): { entries: ShimIndexEntry[] } | { problem: string } {
  const entries: ShimIndexEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || line.startsWith('#')) continue;
    const cols = line.split('\t');
    const at = `line ${i + 1}${cols[0] ? ` (${cols[0]})` : ''}`;
    if (cols.length !== FIELDS.length) return { problem: `${at}: ${cols.length} fields, expected ${FIELDS.length}` };
    const r = shimIndexLine.safeParse(cols);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const field = typeof issue.path[0] === 'number' ? FIELDS[issue.path[0]] : undefined;
      return { problem: `${at}: ${field ?? 'line'}: ${issue.message}` };
    }
    const [name, kind, url, ref, commit, digest, path, store, status] = r.data;
    if (seen.has(name)) return { problem: `${at}: component ${name} is listed twice` };
    seen.add(name);
    entries.push({ name, kind, url, ref, commit, digest, path, store, status });
  }
  return { entries };
}
