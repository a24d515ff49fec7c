import { ExitCode, XenrelError } from '../errors.js';

/**
 * A component's content does not hash to what the lock says: `what` names the content
 * ("commit abc…", "the content in the cache", "nested source x"). Most often a damaged
 * cache, which fetch repairs; an upstream that changed needs a new lock, after a look.
 */
export const treeMismatch = (name: string, what: string, got: string, want: string | undefined): XenrelError =>
  new XenrelError('E_TREE_MISMATCH', `component ${name}: ${what} has tree hash ${got}, the lock says ${want}`, {
    exitCode: ExitCode.fetch,
    hint: `run \`xenrel fetch ${name}\` to repair the cache; if it persists, re-lock with \`xenrel lock --update ${name}\` after checking why`,
  });
