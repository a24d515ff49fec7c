/**
 * Where a tree's symlinks lead, resolved as the kernel would after extraction (through the
 * tree's other symlinks), in time linear in the total length of the targets: the tree is a
 * trie of components, and each link is resolved once and remembered, so a chain through
 * other links costs one step per link, never a re-walk of their targets.
 *
 * A location is a node of the trie plus a count of components below it that the tree does
 * not hold (nothing there can be a link, so they only matter for `..`).
 */

interface Node {
  parent: Node | undefined;
  depth: number;
  /** The first-level ancestor (itself at depth 1); undefined for the root. */
  top: Node | undefined;
  name: string;
  children: Map<string, Node>;
  /** Symlink target, when this node is a symlink. */
  target?: string;
  /** Memoised resolution of the link; 'busy' while being resolved (a loop). */
  resolved?: Location | Outcome | 'busy';
}

interface Location {
  node: Node;
  /** Components below `node` that the tree does not hold. */
  virtual: number;
}

/** Why a link cannot be resolved inside the tree. */
export type Outcome = 'escapes' | 'absolute' | 'loop' | 'too-deep';

/** Linux gives up after 40 links in one resolution (ELOOP). */
const MAX_CHAIN = 40;

export class LinkTree {
  private readonly root: Node = { parent: undefined, depth: 0, top: undefined, name: '', children: new Map() };

  private node(path: string): Node {
    let n = this.root;
    for (const c of path.split('/')) {
      let child = n.children.get(c);
      if (!child) {
        child = { parent: n, depth: n.depth + 1, top: undefined, name: c, children: new Map() };
        child.top = n.depth === 0 ? child : n.top;
        n.children.set(c, child);
      }
      n = child;
    }
    return n;
  }

  /** `path` is canonical (no `.`/`..`/empty components). */
  addSymlink(path: string, target: string): void {
    this.node(path).target = target;
  }

  /** Registers a non-link path (a file or directory), so `..` and lookups see it. */
  addPath(path: string): void {
    this.node(path);
  }

  /**
   * Where the link at `path` leads: the resolved path's top component and whether it is
   * the root itself, or the reason it does not stay inside the tree.
   */
  resolve(path: string): { top: string | undefined; isRoot: boolean; path: string } | Outcome {
    const r = this.resolveLink(this.node(path), 0);
    if (typeof r === 'string') return r;
    return { top: r.node.top?.name, isRoot: r.node === this.root && r.virtual === 0, path: pathOf(r) };
  }

  private resolveLink(link: Node, chain: number): Location | Outcome {
    if (link.resolved === 'busy') return 'loop';
    if (link.resolved) return link.resolved;
    if (chain >= MAX_CHAIN) return 'too-deep';
    link.resolved = 'busy';
    const r = this.walk({ node: link.parent!, virtual: 0 }, link.target!, chain);
    // A chain too long from here may be short from elsewhere: only final answers are kept.
    link.resolved = r === 'too-deep' ? undefined : r;
    return r;
  }

  private walk(from: Location, target: string, chain: number): Location | Outcome {
    if (target.startsWith('/')) return 'absolute';
    let { node, virtual } = from;
    let start = 0;
    while (start <= target.length) {
      let end = target.indexOf('/', start);
      if (end < 0) end = target.length;
      const c = target.slice(start, end);
      start = end + 1;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (virtual > 0) virtual--;
        else if (node.parent) node = node.parent;
        else return 'escapes';
        continue;
      }
      if (virtual > 0) {
        virtual++;
        continue;
      }
      const child = node.children.get(c);
      if (!child) {
        virtual = 1;
        continue;
      }
      if (child.target === undefined) {
        node = child;
        continue;
      }
      const via = this.resolveLink(child, chain + 1);
      if (typeof via === 'string') return via;
      ({ node, virtual } = via);
    }
    return { node, virtual };
  }
}

function pathOf(l: Location): string {
  const parts: string[] = [];
  for (let n: Node | undefined = l.node; n?.parent; n = n.parent) parts.push(n.name);
  const p = parts.reverse().join('/');
  return l.virtual ? `${p}${p ? '/' : ''}${Array(l.virtual).fill('…').join('/')}` : p;
}
