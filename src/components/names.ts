import { XenrelError, ExitCode } from '../errors.js';
import { didYouMean } from '../util/did-you-mean.js';

/** Names given on the command line must exist; say which don't, with a suggestion. */
export function assertKnownComponents(names: string[], known: string[], what = 'component'): void {
  const unknown = names.filter((n) => !known.includes(n));
  if (!unknown.length) return;
  const parts = unknown.map((n) => {
    const guess = didYouMean(n, known);
    return `"${n}"${guess ? ` (did you mean "${guess}"?)` : ''}`;
  });
  throw new XenrelError('E_UNKNOWN_COMPONENT', `unknown ${what}${unknown.length > 1 ? 's' : ''}: ${parts.join(', ')}`, {
    exitCode: ExitCode.usage,
    hint: `known: ${known.join(', ') || '(none)'}`,
  });
}
