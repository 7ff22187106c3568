/**
 * `kms completion bash|zsh|fish`: a completion script made from the command
 * table itself, so every command and flag `kms --help` knows is completed,
 * and nothing else.
 */
import { type CliCommand, CliError } from "./command.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;

/** The flags of a command, as typed. */
function flags(cmd: CliCommand): string[] {
  return ["--help", "--json", ...Object.entries(cmd.options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])])];
}

/** The completion script for `shell`. */
export function completionScript(shell: string, commands: readonly CliCommand[]): string {
  const names = commands.map((c) => c.name);
  if (shell === "bash") {
    const cases = commands.map((c) => `    ${c.name}) opts="${flags(c).join(" ")}" ;;`).join("\n");
    return `# kms bash completion: source <(kms completion bash)
_kms() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}" opts
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names.join(" ")} --help --version" -- "$cur"))
    return
  fi
  case "$cmd" in
${cases}
    *) opts="" ;;
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -F _kms kms
`;
  }
  if (shell === "zsh") {
    const cmds = commands.map((c) => `    '${c.name}:${c.summary.replace(/'/g, "'\\''").replace(/:/g, "\\:")}'`).join("\n");
    const cases = commands.map((c) => `    ${c.name}) _arguments ${flags(c).map((f) => `'${f}'`).join(" ")} '*:file:_files' ;;`).join("\n");
    return `#compdef kms
# kms zsh completion: kms completion zsh > "\${fpath[1]}/_kms"
_kms() {
  local -a commands
  commands=(
${cmds}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "$words[2]" in
${cases}
  esac
}
compdef _kms kms
`;
  }
  const lines = commands.flatMap((c) => [
    `complete -c kms -n __fish_use_subcommand -a ${c.name} -d '${c.summary.replace(/'/g, "\\'")}'`,
    ...Object.entries({ help: { short: "h" }, json: {}, ...c.options } as Record<string, { short?: string }>).map(([name, o]) =>
      `complete -c kms -n '__fish_seen_subcommand_from ${c.name}' -l ${name}${o.short ? ` -s ${o.short}` : ""}`),
  ]);
  return `# kms fish completion: kms completion fish > ~/.config/fish/completions/kms.fish\ncomplete -c kms -f\n${lines.join("\n")}\n`;
}

/** completion, over the table `commands` gives (main.ts's, read when run). */
export function completionCommands(commands: () => readonly CliCommand[]): CliCommand[] {
  return [{
    name: "completion",
    summary: "Print a shell completion script (bash, zsh or fish)",
    help: `Usage: kms completion bash|zsh|fish

Prints a completion script for the shell, made from kms's own command table:
  bash:  source <(kms completion bash)      (or save it in /etc/bash_completion.d/kms)
  zsh:   kms completion zsh > "\${fpath[1]}/_kms"
  fish:  kms completion fish > ~/.config/fish/completions/kms.fish`,
    options: {},
    positionals: 1,
    async run(args) {
      const shell = args.positionals[0];
      if (!(SHELLS as readonly string[]).includes(shell)) throw new CliError(`completion: unknown shell '${shell}': use bash, zsh or fish`, 2);
      process.stdout.write(completionScript(shell, commands()));
    },
  }];
}
