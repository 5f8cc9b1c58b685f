"""The ``afw`` program: ``afw lpad``, ``afw rlaunch``, ``afw qlaunch``.

User errors print one line on stderr and exit non-zero; ``-v`` shows the traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Annotated

from cyclopts import App, Parameter
from cyclopts.exceptions import CycloptsError

from afw.cli.common import GLOBALS
from afw.errors import AfwError

__all__ = ["app", "main", "run"]

app = App(
    name="afw",
    help="afw: FireWorks-compatible workflows, asyncio and filesystem-first.",
    result_action="return_value",
)

Tokens = Annotated[str, Parameter(show=False, allow_leading_hyphen=True)]
LpadFile = Annotated[str | None, Parameter(name=["-l", "--launchpad-file"], help="launchpad YAML")]
WorkerFile = Annotated[str | None, Parameter(name=["-w", "--fworker-file"], help="fworker YAML")]
Verbose = Annotated[bool, Parameter(name=["-v", "--verbose"], negative="", help="show details")]
Json = Annotated[bool, Parameter(name="--json", negative="", help="JSON output")]


def _globals(lpad_file: str | None, fworker_file: str | None, verbose: bool, json: bool) -> None:
    GLOBALS.launchpad_file = lpad_file or GLOBALS.launchpad_file
    GLOBALS.fworker_file = fworker_file or GLOBALS.fworker_file
    GLOBALS.verbose = verbose or GLOBALS.verbose
    GLOBALS.json = json or GLOBALS.json
    logging.basicConfig(
        level=logging.DEBUG if GLOBALS.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # asyncssh logs every connection at INFO: keep SSH failures to afw's one line unless -v.
    logging.getLogger("asyncssh").setLevel(logging.DEBUG if GLOBALS.verbose else logging.WARNING)


# Modules that register commands on each sub-app (imported only when that app is used).
_MODULES = {
    "lpad": ("lpad", "lpad_rerun", "lpad_offline", "lpad_admin"),
    "rlaunch": ("rlaunch",),
    "qlaunch": ("qlaunch",),
}


def _sub_app(name: str) -> App:
    import importlib

    for module in _MODULES[name]:
        importlib.import_module(f"afw.cli.{module}")
    app_module = importlib.import_module(f"afw.cli.{name}")
    sub: App = getattr(app_module, f"{name}_app")
    # Options before the command (``qlaunch -r rapidfire``) belong to the sub-app's meta app.
    return sub.meta if sub.meta.default_command is not None else sub


def _dispatch(name: str) -> None:
    def meta(
        *tokens: Tokens,
        launchpad_file: LpadFile = None,
        fworker_file: WorkerFile = None,
        verbose: Verbose = False,
        json: Json = False,
    ) -> object:
        _globals(launchpad_file, fworker_file, verbose, json)
        return _sub_app(name)(list(tokens), exit_on_error=False, print_error=False)

    meta.__doc__ = {
        "lpad": "Manage the LaunchPad: add, query, defuse, rerun, recover_offline ...",
        "rlaunch": "Run Fireworks here: singleshot, rapidfire, multi.",
        "qlaunch": "Submit Fireworks to a batch queue: singleshot, rapidfire.",
    }[name]
    app.command(meta, name=name, help_flags=[])


for _name in ("lpad", "rlaunch", "qlaunch"):
    _dispatch(_name)


# FireWorks' two-letter flags, which the parser would otherwise read as "-l m" (the global
# -l/--launchpad-file with the value "m"): given to the commands under their long names.
_FIREWORKS_FLAGS = {"-lm": "--launch-mode", "-lq": "--launch-query"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    tokens = [_FIREWORKS_FLAGS.get(t, t) for t in (sys.argv[1:] if argv is None else argv)]
    try:
        try:
            result = app(tokens, exit_on_error=False, print_error=False)
        except BaseExceptionGroup as group:
            raise _first_leaf(group) from group
    except CycloptsError as exc:
        message = " ".join(str(exc).split())
        print(f"afw: error: {message}", file=sys.stderr)
        return 2
    except AfwError as exc:
        if GLOBALS.verbose:
            logging.getLogger("afw").exception("details")
        print(f"afw: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("afw: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Task groups wrap errors; report the afw error inside (or the first one)."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    return next((e for e in leaves if isinstance(e, AfwError | SystemExit)), leaves[0])


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
