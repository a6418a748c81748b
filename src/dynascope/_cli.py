"""What every ``dynascope`` command shares: the error style, the option builders, the one
loader of a user's model (with the settings a file does not record) and Ctrl-C handling.

:mod:`dynascope.cli` declares the commands with these.
"""

from __future__ import annotations

import functools
import os
import shlex
import sys
import warnings
from collections.abc import Callable
from typing import Any

import click

from .exceptions import DynascopeError

# Errors a user can cause (bad options, files, data, a missing extra): one `error:` line, no
# traceback. Anything else is a bug and keeps its traceback. DYNASCOPE_TRACEBACK=1 shows the
# traceback of user errors too.
_USER_ERRORS: tuple[type[BaseException], ...] = (
    DynascopeError,
    ValueError,
    TypeError,
    OSError,
    ImportError,
)


def _say(kind: str, message: object) -> None:
    """Print one ``error: ...`` / ``warning: ...`` line to stderr."""
    text = " ".join(str(message).split()) or "(no message)"
    click.echo(f"{kind}: {text}", err=True)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` during CLI commands: a ``warning:`` line, no source line."""
    _say("warning", message)


class _Interrupted(click.ClickException):
    """Ctrl-C during a resumable command: say how to resume; exit 130."""

    exit_code = 130


def _resume_hint() -> str:
    """The command line that resumes the interrupted run (this one, plus --resume)."""
    argv = [a for a in sys.argv[1:] if a != "--overwrite"]
    if "--resume" not in argv:
        argv.append("--resume")
    return "dynascope " + shlex.join(argv)


class _Main(click.Group):
    """The command group, with one error style: ``error: ...`` lines on stderr, no tracebacks
    for user errors, ``warning: ...`` lines for the library's warnings, exit 130 on Ctrl-C."""

    def main(self, args: Any = None, *posargs: Any, **kwargs: Any) -> Any:  # noqa: D102
        if kwargs.get("standalone_mode", True) is False:
            return super().main(args, *posargs, **kwargs)
        kwargs["standalone_mode"] = False
        previous = warnings.showwarning
        warnings.showwarning = _show_warning
        code = 0
        try:
            rv = super().main(args, *posargs, **kwargs)
            code = rv if isinstance(rv, int) else 0  # click returns the code of an early exit
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "dynascope"
            _say("error", f"{exc.format_message()} (see: {where} --help)")
            code = exc.exit_code
        except click.ClickException as exc:
            _say("error", exc.format_message())
            code = exc.exit_code
        except click.Abort:  # Ctrl-C (or EOF) outside a resumable command
            _say("error", "interrupted")
            code = 130
        except _USER_ERRORS as exc:
            if os.environ.get("DYNASCOPE_TRACEBACK"):
                raise
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            _say("error", first)
            code = 1
        finally:
            warnings.showwarning = previous
        sys.exit(code)


def _resumable(command: Callable[..., None]) -> Callable[..., None]:
    """Ctrl-C during ``command`` says how to resume it (exit 130)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except KeyboardInterrupt:
            raise _Interrupted(f"interrupted; resume with: {_resume_hint()}") from None

    return run


def _options(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Apply click option decorators in the order written (the order --help lists them)."""

    def apply(command: Any) -> Any:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def _int_option(name: str, help: str, default: int | None, **kwargs: Any) -> Any:
    """An integer option >= ``kwargs.get('min', 1)``; its default shown when it has one."""
    low = kwargs.pop("min", 1)
    show = kwargs.pop("show_default", default is not None)
    return click.option(
        name,
        type=click.IntRange(min=low),
        default=default,
        show_default=show,
        help=help,
        **kwargs,
    )


def _seed_option(help: str, default: int | None = 0) -> Any:
    return _int_option("--seed", help, default, min=0)


def _dir_option(help: str, required: bool = False, name: str = "--out") -> Any:
    """An output folder option (``--out``)."""
    return click.option(
        name, type=click.Path(file_okay=False), default=None, required=required, help=help
    )


def _file_option(name: str, dest: str, help: str) -> Any:
    return click.option(name, dest, type=click.Path(dir_okay=False), default=None, help=help)


#: The options of every command that loads a user's model: what a state dict does not record
#: (default None: the loader assumes a value and says so).
_SETTING_HELP = {
    "--nonlinearity": "The recurrent nonlinearity, which a state dict does not record: an "
    "nn.RNN's (tanh or relu; assumed tanh) or a low_rank_rnns network's (tanh, relu, softplus, "
    "identity; assumed tanh).",
    "--readout-nonlinearity": "A low_rank_rnns network's readout nonlinearity (assumed tanh, "
    "its default).",
    "--tau": "Time constant of a continuous-time (low_rank_rnns) network (assumed 100).",
    "--dt": "Euler step of a continuous-time network (assumed 20; alpha = dt/tau).",
}
_MODEL_SETTINGS = _options(
    *(
        click.option(
            name,
            type=click.Choice(["tanh", "relu", "softplus", "identity"])
            if name.endswith("nonlinearity")
            else click.FloatRange(min=0.0, min_open=True),
            default=None,
            metavar="NAME" if name.endswith("nonlinearity") else "MS",
            help=text,
        )
        for name, text in _SETTING_HELP.items()
    )
)


def _model_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the :data:`_MODEL_SETTINGS` values out of a command's keyword arguments."""
    return {k: kwargs.pop(k) for k in ("nonlinearity", "readout_nonlinearity", "tau", "dt")}


def _load_model(
    path: Any, settings: dict[str, Any], echo: bool = True, only_where_needed: bool = False
) -> Any:
    """The one way commands load a user's model; say first what had to be assumed.

    ``only_where_needed`` (several files, one set of settings): a file that records its own
    settings, or has none to set (a GRU), is loaded as it is, with a line saying so.
    """
    from .exceptions import InvalidParameterError
    from .io import assumption_notes, load_user_model

    try:
        model = load_user_model(path, **settings)
    except InvalidParameterError as exc:
        given = {k: v for k, v in settings.items() if v is not None}
        if not (only_where_needed and given):
            raise
        model = load_user_model(path)
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in given)
        click.echo(f"{path}: {flags} not applied ({str(exc).split('; ', 1)[0]})")
    if echo:
        for line in assumption_notes(model, cli=True):
            click.echo(line)
    return model
