/**
 * Version-aware ordering of tag names that look like the pinned one: `rel-1.16.0` is
 * followed by `rel-1.17.0`, `qemu-xen-4.22.0` by `qemu-xen-4.23.0`, `edk2-stable202405` by
 * `edk2-stable202408`. A tag "looks like" the pin when it has the same text before the
 * first number, the same separator between numbers, and the same shape after them
 * (so `-rc1` tags are only candidates for an `-rc` pin).
 */

export interface TagVersion {
  tag: string;
  prefix: string;
  /** `.` or `_` (or '' for a single number). */
  sep: string;
  core: number[];
  /** What follows the numbers, digits replaced by `#`. */
  suffixShape: string;
  suffixNums: number[];
}

export function parseTagVersion(tag: string): TagVersion | undefined {
  const m = /^(\D*?)(\d+(?:([._])\d+)*)(.*)$/.exec(tag);
  if (!m) return undefined;
  const [, prefix, core, sep, suffix] = m as unknown as [string, string, string, string | undefined, string];
  // A suffix that starts with another number group ("1.2-3.4") keeps its own shape.
  return {
    tag,
    prefix,
    sep: sep ?? '',
    core: core.split(/[._]/).map(Number),
    suffixShape: suffix.replace(/\d+/g, '#'),
    suffixNums: (suffix.match(/\d+/g) ?? []).map(Number),
  };
}

/** Whether `candidate` is a tag of the same series as `pin`. */
export function sameSeries(pin: TagVersion, candidate: TagVersion): boolean {
  if (pin.prefix !== candidate.prefix || pin.suffixShape !== candidate.suffixShape) return false;
  // A single number pin (edk2-stable202408) and a dotted tag are different series.
  if ((pin.core.length === 1) !== (candidate.core.length === 1)) return false;
  return pin.sep === candidate.sep || pin.sep === '' || candidate.sep === '';
}

function compareNums(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Order of two versions of one series; equal numbers fall back to the longer form (1.17.0 after 1.17). */
export function compareTagVersions(a: TagVersion, b: TagVersion): number {
  return (
    compareNums(a.core, b.core) ||
    compareNums(a.suffixNums, b.suffixNums) ||
    Math.sign(a.core.length - b.core.length) ||
    (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0)
  );
}

/** Tags of `pin`'s series that are newer than it, newest first. */
export function newerTags(pin: string, tags: Iterable<string>): string[] {
  const p = parseTagVersion(pin);
  if (!p) return [];
  const out: TagVersion[] = [];
  for (const t of tags) {
    const v = parseTagVersion(t);
    if (v && sameSeries(p, v) && compareTagVersions(v, p) > 0) out.push(v);
  }
  return out.sort((a, b) => compareTagVersions(b, a)).map((v) => v.tag);
}
