import { Command, Option } from 'clipanion';
import { usageError } from '../errors.js';
import { bashCompletion, completionSpecs, zshCompletion } from '../shell/completion.js';
import { loadAllCommands } from './commands.js';

export class CompletionCommand extends Command {
  static override paths = [['completion']];
  static override usage = Command.Usage({
    description: 'Print a bash or zsh completion script',
    details: `
      The script is generated from the command definitions: command names, each command's
      options, and their values where they are files, folders or a fixed set of words.
    `,
    examples: [
      ['Bash, for the current user', '$0 completion bash > ~/.local/share/bash-completion/completions/xenrel'],
      ['Zsh (any folder in $fpath)', '$0 completion zsh > ~/.zfunc/_xenrel'],
    ],
  });

  shell = Option.String({ name: 'bash|zsh' });

  async execute(): Promise<number> {
    if (this.shell !== 'bash' && this.shell !== 'zsh') {
      const e = usageError(
        `no completion for shell "${this.shell}"`,
        'use `xenrel completion bash` or `xenrel completion zsh`',
      );
      this.context.stderr.write(`error: ${e.message}\n  hint: ${e.hint}\n`);
      return e.exitCode;
    }
    const specs = completionSpecs(await loadAllCommands());
    this.context.stdout.write(this.shell === 'bash' ? bashCompletion(specs) : zshCompletion(specs));
    return 0;
  }
}
