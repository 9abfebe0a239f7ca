"""`adpulse completion bash|zsh`: a shell completion script made from the parser itself, so it
never lags behind the commands and options (`eval "$(adpulse completion bash)"`)."""

from __future__ import annotations

import argparse
from typing import Any

# zsh runs the bash function through its bash-compatible completion layer.
_ZSH_PRELUDE = "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"


def register(commands: Any) -> None:
    completion = commands.add_parser("completion", help="print a bash or zsh completion script")
    completion.add_argument("shell", choices=["bash", "zsh"])
    completion.set_defaults(run=run, needs_client=False)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [flag for action in parser._actions for flag in action.option_strings if flag.startswith("--")]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    commands = _subcommands(parser)
    cases = "\n".join(
        f'        {name}) words="{" ".join(_options(sub) + sorted(_subcommands(sub)))}" ;;'
        for name, sub in sorted(commands.items())
    )
    body = f"""_adpulse() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" command="" words i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in -*) ;; *) command="${{COMP_WORDS[i]}}"; break ;; esac
    done
    case "$command" in
        "") words="{" ".join(_options(parser) + sorted(commands))}" ;;
{cases}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    # Arguments that are not options or commands are mostly files.
    [[ "$cur" != -* ]] && COMPREPLY+=($(compgen -f -- "$cur"))
}}
complete -o filenames -F _adpulse adpulse
"""
    return (_ZSH_PRELUDE if shell == "zsh" else "") + body


def run(args: argparse.Namespace) -> int:
    print(script(args.parser, args.shell), end="")
    return 0
