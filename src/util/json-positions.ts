/**
 * Where a key path sits in JSON text, for errors at file:line:col. The lock and the JSON
 * read from tarballs are JSON, so a scan of the text is enough: the YAML parser the config
 * needs would cost every command that reads a lock its load time, for an error path.
 */

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * `line:col` (1-based) of the value at `path` in valid JSON `text` — of its key with
 * `key` — or of its closest existing ancestor. A repeated key resolves to its last
 * occurrence, the one JSON.parse keeps.
 */
export function jsonPositionOf(
  text: string,
  path: (string | number)[],
  opts: { key?: boolean } = {},
): { line: number; col: number } {
  let i = 0;
  const ws = () => {
    while (i < text.length && WHITESPACE.has(text[i]!)) i++;
  };
  const skipString = () => {
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipValue = () => {
    const c = text[i];
    if (c === '"') return skipString();
    if (c !== '{' && c !== '[') {
      while (i < text.length && !WHITESPACE.has(text[i]!) && !',}]'.includes(text[i]!)) i++;
      return;
    }
    let depth = 0;
    do {
      const d = text[i];
      if (d === '"') {
        skipString();
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') depth--;
      i++;
    } while (depth > 0 && i < text.length);
  };
  // Steps to the next member of the object or array at `i`; false at its end.
  const next = (close: string): boolean => {
    ws();
    if (text[i] === ',') i++;
    ws();
    return i < text.length && text[i] !== close;
  };

  ws();
  let best = i;
  for (let depth = 0; depth < path.length; depth++) {
    const want = path[depth]!;
    const last = depth === path.length - 1;
    let found = -1;
    if (text[i] === '{') {
      i++;
      while (next('}')) {
        const keyAt = i;
        skipString();
        const key = JSON.parse(text.slice(keyAt, i)) as string;
        ws();
        i++; // ':'
        ws();
        if (key === String(want)) found = opts.key && last ? keyAt : i;
        skipValue();
      }
    } else if (text[i] === '[' && typeof want === 'number') {
      i++;
      for (let index = 0; next(']'); index++) {
        if (index === want) found = i;
        skipValue();
      }
    }
    if (found < 0) break;
    best = found;
    i = found;
    if (opts.key && last) break;
  }
  return lineCol(text, best);
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let n = text.indexOf('\n'); n !== -1 && n < offset; n = text.indexOf('\n', n + 1)) {
    line++;
    start = n + 1;
  }
  return { line, col: offset - start + 1 };
}
