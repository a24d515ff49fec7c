import type cacache from 'cacache';

let loaded: Promise<typeof cacache> | undefined;

/**
 * The content store's library, loaded on first use: cacache and what it pulls in (semver,
 * @npmcli/fs, minipass streams) would cost every command its load time, also the many
 * that never touch downloaded bytes. A bundled import of this CommonJS package has only
 * `default`, so that is what is used.
 */
export const cacacheLib = (): Promise<typeof cacache> => (loaded ??= import('cacache').then((m) => m.default));
