#!/usr/bin/env node
// A plain `node` shebang: `env -S` (to pass V8 flags) is not in BusyBox. V8 reads heap flags
// only at start-up (v8.setFlagsFromString later was measured to change nothing), so a smaller
// young generation is the user's choice: NODE_OPTIONS=--max-semi-space-size=2.
// Only the command table loads before a command is chosen; each command's module (and the
// libraries it needs) is imported when that command runs.
import { ExitCode, XenrelError } from './errors.js';
import { loadCommand, overview } from './shell/overview.js';
import { XENREL_VERSION } from './version.js';

/**
 * Options whose value is itself a list of flags (`plan --configure "--enable-ovmf"`):
 * clipanion would read the value as an option, so join it as `--configure=VALUE`.
 */
const FLAG_VALUED = new Set(['--configure']);
function joinFlagValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (FLAG_VALUED.has(a) && i + 1 < argv.length) out.push(`${a}=${argv[++i]}`);
    else out.push(a);
  }
  return out;
}

const wantsHelp = (args: string[]) => {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '-h' || a === '--help');
};

async function main(argv: string[]): Promise<number> {
  const colored = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  const args = joinFlagValues(argv);
  const [name, ...rest] = args;
  if (name === undefined || name === '-h' || name === '--help') {
    process.stdout.write(overview());
    return ExitCode.ok;
  }
  if (name === '-v' || name === '--version') {
    process.stdout.write(`${XENREL_VERSION}\n`);
    return ExitCode.ok;
  }
  let cls;
  try {
    if (name.startsWith('-'))
      throw new XenrelError('E_USAGE', `unknown option "${name}" before the command`, { hint: 'options go after the command name: `xenrel COMMAND --help` lists them' });
    cls = await loadCommand(name);
  } catch (err) {
    if (!(err instanceof XenrelError)) throw err;
    process.stderr.write(`error: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
    return err.exitCode;
  }
  const { commandHelp, newCli } = await import('./shell/usage.js');
  const { withValueNames } = await import('./shell/value-names.js');
  if (wantsHelp(rest)) {
    process.stdout.write(commandHelp(name, cls, colored));
    return ExitCode.ok;
  }
  const cli = newCli(colored);
  cli.register(cls);
  let command;
  try {
    command = cli.process(args);
  } catch (err) {
    // An unknown option or a missing argument: a usage error, exit 2 as documented.
    process.stderr.write(withValueNames(cli.error(err as Error), name));
    return ExitCode.usage;
  }
  return cli.run(command, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
}

process.exitCode = await main(process.argv.slice(2));
