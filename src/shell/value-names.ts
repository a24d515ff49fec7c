/**
 * What each option's value is, for help (`--jobs N` where clipanion would print `--jobs #0`)
 * and for completion (files, folders, or a fixed set of words).
 */
export interface ValueName {
  name: string;
  complete?: 'file' | 'dir' | readonly string[];
}

const BY_OPTION: Record<string, ValueName> = {
  '--config': { name: 'FILE', complete: 'file' },
  '--cache': { name: 'DIR', complete: 'dir' },
  '--jobs': { name: 'N' },
  '--update': { name: 'NAME' },
  '--without': { name: 'NAME|GROUP' },
  '--to': { name: 'REF' },
  '--limit': { name: 'N' },
  '--level': { name: 'N', complete: ['1', '2', '3', '4', '5', '6', '7', '8', '9'] },
  '--out': { name: 'PATH', complete: 'file' },
  '--reproduce': { name: 'TARBALL', complete: 'file' },
  '--prefix': { name: 'DIR' },
  '--xen-tree': { name: 'DIR', complete: 'dir' },
  '--configure': { name: 'FLAGS' },
  '--host': { name: 'TRIPLET' },
  '--lock': { name: 'FILE', complete: 'file' },
  // An OpenSSH key file, or an OpenPGP fingerprint (no completion offers those).
  '--sign': { name: 'KEY', complete: 'file' },
  '--key': { name: 'KEY', complete: 'file' },
};

/** Options whose meaning (and so whose values) depend on the command. */
const BY_COMMAND: Record<string, Record<string, ValueName>> = {
  release: {
    '--format': { name: 'gz|xz|zst', complete: ['gz', 'xz', 'zst'] },
    '--out': { name: 'DIR', complete: 'dir' },
  },
  sbom: {
    '--format': { name: 'spdx|cyclonedx', complete: ['spdx', 'cyclonedx'] },
    '--out': { name: 'FILE', complete: 'file' },
  },
  export: { '--format': { name: 'FORMAT', complete: ['debian', 'fedora', 'yocto', 'buildroot'] } },
  init: { '--out': { name: 'FILE', complete: 'file' } },
  verify: { '--provenance': { name: 'FILE', complete: 'file' } },
};

/** `names` as clipanion lists them (`--jobs,-j`); the long name decides. */
export function valueNameFor(command: string | undefined, names: string[]): ValueName {
  const long = names.find((n) => n.startsWith('--')) ?? names[0]!;
  return (
    (command ? BY_COMMAND[command]?.[long] : undefined) ??
    BY_OPTION[long] ?? { name: long.replace(/^-+/, '').toUpperCase() }
  );
}

/** Replace clipanion's `#0` placeholders in a usage or help text with value names. */
export function withValueNames(text: string, command: string | undefined): string {
  return text.replace(/((?:-{1,2}[\w-]+,)*-{1,2}[\w-]+)((?: #\d+)+)/g, (_m, names: string, holes: string) => {
    const v = valueNameFor(command, names.split(','));
    return `${names}${holes
      .split(' #')
      .slice(1)
      .map(() => ` ${v.name}`)
      .join('')}`;
  });
}

/**
 * Re-align the Options block of a detailed help after the names changed width (clipanion
 * padded the definitions as `#0`): lines are `  DEFINITION<pad>    DESCRIPTION`.
 */
export function realignOptions(text: string): string {
  const lines = text.split('\n');
  const row = /^ {2}(\x1b\[1m)?([^\s\x1b]+(?: [^\s\x1b]+)*?) *(\x1b\[22m)? {4}(\S.*)$/;
  const start = lines.findIndex((l) => /^[^\w]*Options[^\w]*$/.test(l.replace(/\x1b\[[0-9;]*m/g, '')));
  if (start < 0) return text;
  let end = start + 2;
  while (end < lines.length && row.test(lines[end]!)) end++;
  const rows = lines.slice(start + 2, end).map((l) => row.exec(l)!);
  const width = Math.max(...rows.map((m) => m[2]!.length));
  for (const [i, m] of rows.entries())
    lines[start + 2 + i] = `  ${m[1] ?? ''}${m[2]!.padEnd(width)}${m[3] ?? ''}    ${m[4]}`;
  return lines.join('\n');
}
