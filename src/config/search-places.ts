/** The config file's usual name, and the first place the config search looks. */
export const CONFIG_FILE_NAME = 'xenrel.config.yaml';

/** Where the config is looked for, in order, in each folder from cwd upward. */
export const CONFIG_SEARCH_PLACES = [
  CONFIG_FILE_NAME,
  'xenrel.config.yml',
  'xenrel.config.json',
  '.xenrelrc',
  '.xenrelrc.yaml',
  '.xenrelrc.yml',
  '.xenrelrc.json',
  'package.json',
];
