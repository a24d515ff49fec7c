import type { CommandClass } from 'clipanion';
import { HashCommand } from './hash.js';

/** Every command, one line each (one command a file in src/cli/). */
export const commands: CommandClass[] = [
  HashCommand,
];
