import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';

/** One line of one file of the Xen tree, before and after. */
export interface LineEdit {
  /** Relative to the tree root. */
  file: string;
  line: number;
  before: string;
  after: string;
  variable: string;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The edit that makes `variable`'s definition at `file:line` say `newValue` where it says
 * `oldValue`: in a make assignment only the part after the operator is touched, elsewhere
 * (configure.ac's `AX_STUBDOM_LIB(…, [1.16.0])`) the line. The old value must appear there
 * exactly once as a whole word; anything else (a value built from other variables) is
 * refused with a reason, since guessing would corrupt the tree.
 */
export async function planLineEdit(
  root: string,
  file: string,
  line: number,
  variable: string,
  oldValue: string,
  newValue: string,
): Promise<LineEdit | { refused: string }> {
  const abs = isAbsolute(file) ? file : join(root, file);
  const rel = relative(root, abs);
  if (rel.startsWith('..')) return { refused: `${file} is outside the tree` };
  const text = await readFile(abs, 'utf8').catch(() => undefined);
  if (text === undefined) return { refused: `cannot read ${rel}` };
  const lines = text.split('\n');
  const before = lines[line - 1];
  if (before === undefined) return { refused: `${rel} has no line ${line}` };
  const assign = new RegExp(
    `^(\\s*(?:(?:override|export)\\s+)*${escapeRegex(variable)}\\s*(?:\\?|::|:|\\+|!)?=)(.*)$`,
  ).exec(before);
  const head = assign ? assign[1]! : '';
  const tail = assign ? assign[2]! : before;
  const word = new RegExp(`(?<![A-Za-z0-9_.-])${escapeRegex(oldValue)}(?![A-Za-z0-9_-]|\\.[A-Za-z0-9])`, 'g');
  const hits = tail.match(word)?.length ?? 0;
  if (hits !== 1)
    return {
      refused: `${rel}:${line} (${before.trim()}) ${hits ? `names ${oldValue} ${hits} times` : `does not spell out ${oldValue}`}`,
    };
  return { file: rel, line, before, after: head + tail.replace(word, newValue), variable };
}

/** Apply edits (several may hit one file), each file written atomically with its mode kept. */
export async function applyLineEdits(root: string, edits: LineEdit[]): Promise<Map<string, string>> {
  const originals = new Map<string, string>();
  const byFile = new Map<string, LineEdit[]>();
  for (const e of edits) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  for (const [file, list] of byFile) {
    const abs = join(root, file);
    const text = await readFile(abs, 'utf8');
    originals.set(abs, text);
    const lines = text.split('\n');
    for (const e of list) {
      if (lines[e.line - 1] !== e.before) throw new Error(`${file}:${e.line} changed while bumping`);
      lines[e.line - 1] = e.after;
    }
    await writeFileAtomic(abs, lines.join('\n'), (await stat(abs)).mode & 0o7777);
  }
  return originals;
}
