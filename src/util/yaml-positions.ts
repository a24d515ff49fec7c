import { isMap, isPair, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';

export interface PositionedDoc {
  doc: Document;
  lines: LineCounter;
  /** Offset of the document inside the file (non-zero for a key inside package.json). */
  text: string;
}

export function parseWithPositions(text: string): PositionedDoc {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  return { doc, lines, text };
}

/** `line:col` (1-based) of the node at `path`, or of its closest existing ancestor. */
export function positionOf(
  pd: PositionedDoc,
  path: (string | number)[],
  opts: { key?: boolean } = {},
): { line: number; col: number } {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    const parent = sub.length ? (pd.doc.getIn(sub.slice(0, -1), true) as Node | undefined) : undefined;
    // Point at the key itself when asked (unknown keys), else at the value.
    if (opts.key && n === path.length && sub.length && isMap(parent)) {
      const pair = parent.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(sub[sub.length - 1]),
      );
      const keyNode = pair?.key as Node | undefined;
      if (keyNode?.range) return toLineCol(pd, keyNode.range[0]);
    }
    const node = (sub.length ? pd.doc.getIn(sub, true) : pd.doc.contents) as Node | undefined;
    if (node && typeof node === 'object' && node.range) return toLineCol(pd, node.range[0]);
  }
  return { line: 1, col: 1 };
}

export function toLineCol(pd: PositionedDoc, offset: number): { line: number; col: number } {
  const p = pd.lines.linePos(offset);
  return { line: p.line, col: p.col };
}
