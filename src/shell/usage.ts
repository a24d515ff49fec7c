import { Cli, type CommandClass } from 'clipanion';
import { XENREL_VERSION } from '../version.js';
import { realignOptions, withValueNames } from './value-names.js';

export function newCli(colored: boolean): Cli {
  return new Cli({ binaryLabel: 'xenrel', binaryName: 'xenrel', binaryVersion: XENREL_VERSION, enableColors: colored });
}

/** One command's detailed help, with value names instead of clipanion's `#0`. */
export function commandHelp(name: string, cls: CommandClass, colored: boolean): string {
  const cli = newCli(colored);
  cli.register(cls);
  return realignOptions(withValueNames(cli.usage(cls, { detailed: true }), name));
}
