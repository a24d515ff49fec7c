/** Dotted key path as users write it: `components.seabios.ref`, `mirrors[0]`. */
export function formatKeyPath(path: (string | number | symbol)[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(top level)';
}
