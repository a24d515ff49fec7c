import { basename } from 'node:path';
import { isScalar, parse, parseDocument } from 'yaml';
import { ExitCode, XenrelError } from '../errors.js';

/**
 * Change one scalar of the config in place, touching nothing else: the value's own bytes
 * are replaced (found by the parser's source range), so comments, order, indentation and
 * quoting of everything around it stay as the user wrote them. Works for YAML and JSON
 * configs (`package.json` under its `xenrel` key).
 */
export function setConfigScalar(text: string, file: string, path: string[], value: string): string {
  const full = basename(file) === 'package.json' ? ['xenrel', ...path] : path;
  const doc = parseDocument(text);
  const node = doc.getIn(full, true);
  if (!isScalar(node) || !node.range)
    throw new XenrelError('E_CONFIG_EDIT', `${file}: no value at ${full.join('.')} to change`, {
      exitCode: ExitCode.usage,
      hint: `edit ${file} by hand: set ${full.join('.')} to ${value}`,
    });
  const [start, end] = node.range;
  const json = /\.json$/i.test(file) || /^\s*\{/.test(text);
  const rendered = render(value, json ? 'QUOTE_DOUBLE' : (node.type ?? 'PLAIN'));
  const out = text.slice(0, start) + rendered + text.slice(end);
  const check = parseDocument(out);
  if (check.errors.length || check.getIn(full) !== value)
    throw new XenrelError(
      'E_CONFIG_EDIT',
      `${file}: could not set ${full.join('.')} to ${value} without breaking the file`,
      {
        exitCode: ExitCode.usage,
        hint: `edit ${file} by hand`,
      },
    );
  return out;
}

function render(value: string, style: string): string {
  if (style === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`;
  if (style === 'PLAIN' && /^[A-Za-z0-9_./~+@-][^\s#,[\]{}&*!|>'"%`]*$/.test(value) && !/:\s|:$/.test(value)) {
    try {
      if (parse(value) === value) return value;
    } catch {
      /* not plain-safe */
    }
  }
  return JSON.stringify(value);
}
