import { basename, resolve } from 'node:path';
import { cosmiconfig, type Options } from 'cosmiconfig';
import { ExitCode, XenrelError } from '../errors.js';
import { CONFIG_SEARCH_PLACES } from './search-places.js';

function parseOrEmpty(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

/** The config file to use: --config wins, else the nearest one cosmiconfig finds from cwd upward. */
export async function findConfig(cwd: string, explicit?: string): Promise<string> {
  if (explicit) return resolve(cwd, explicit);
  const options: Partial<Options> = {
    searchPlaces: CONFIG_SEARCH_PLACES,
    searchStrategy: 'project',
    // We parse ourselves (positions for errors); cosmiconfig only finds the file. JSON is
    // parsed here only so that package.json without a "xenrel" key is passed over.
    loaders: {
      '.yaml': () => ({}),
      '.yml': () => ({}),
      '.json': (_f: string, text: string) => parseOrEmpty(text),
      noExt: () => ({}),
    },
    packageProp: 'xenrel',
    // An empty xenrel.config.yaml is the config (and an error that says so), not "none found".
    ignoreEmptySearchPlaces: false,
  };
  const explorer = cosmiconfig('xenrel', options);
  let found = await explorer.search(cwd).catch(() => null);
  // An empty package.json holds no "xenrel" key: look on as before, past empty files.
  if (found?.isEmpty && basename(found.filepath) === 'package.json')
    found = await cosmiconfig('xenrel', { ...options, ignoreEmptySearchPlaces: true })
      .search(cwd)
      .catch(() => null);
  if (!found)
    throw new XenrelError('E_NO_CONFIG', `no xenrel config found in ${cwd} or its parents`, {
      exitCode: ExitCode.usage,
      hint: 'create xenrel.config.yaml (see the README), run `xenrel init` in a Xen tree, or pass --config FILE',
    });
  return found.filepath;
}
