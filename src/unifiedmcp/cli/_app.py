"""The root ``unifiedmcp`` command: global options, error handling, sub-command registration."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from .. import __version__
from . import _common
from .._secrets import mask_log_records, masked_stderr
from ..errors import UnifiedMCPError

PRIVATE_UMASK = 0o077

app = typer.Typer(
    name="unifiedmcp",
    help="UnifiedMCP billing operations: metered MCP tools over Stripe, webhooks, warehouse and reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"unifiedmcp {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["debug"] = debug


def _register() -> None:
    # Sub-command groups live next to the code they drive; each module exposes `register(app)`.
    from . import (
        _alerts, _billing, _connections, _customers, _demo, _keys, _ledger, _metrics, _oauth, _privacy, _report,
        _sandbox, _server, _usage, _usage_billing, _warehouse, _webhooks,
    )

    for module in (_customers, _keys, _usage, _connections, _ledger, _server, _oauth, _billing, _usage_billing,
                   _webhooks, _sandbox, _warehouse, _metrics, _report, _demo, _alerts, _privacy):
        module.register(app)


_register()


def _error_line(message: str) -> None:
    # Plain print, not rich: the line must never be wrapped or styled.
    print("error: " + _common.plain(" ".join(message.split())), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one clear line and a non-zero exit on error; ``--debug`` for the traceback.

    Nothing it prints to stderr, and no log record, holds a secret (``unifiedmcp._secrets``).
    """
    mask_log_records()
    # Everything a command creates is its user's alone: the ledger, the warehouse and DuckDB's
    # .wal (which DuckDB makes with the umask), reports, exports (docs/privacy.md).
    umask = os.umask(PRIVATE_UMASK)
    try:
        with masked_stderr():
            return _main(sys.argv[1:] if argv is None else argv)
    finally:
        os.umask(umask)  # main() called in-process (tests, notebooks) leaves the caller's as it was


def _main(args: list[str]) -> int:
    # Settings are read once per invocation: a second main() in the same process (tests, notebooks)
    # must see the environment as it is now, not as it was at the first call.
    _common.settings.cache_clear()
    _common.tiers.cache_clear()
    command = typer.main.get_command(app)
    _state["debug"] = "--debug" in args
    try:
        # Standalone mode: typer itself reports usage errors (exit 2), --help and --version.
        command.main(args=args, prog_name="unifiedmcp", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        if _state["debug"]:  # printed here, on the masked stderr, rather than by Python after main()
            for line in "".join(traceback.format_exception(exc)).splitlines():
                print(_common.plain(line), file=sys.stderr)
        elif isinstance(exc, UnifiedMCPError):
            _error_line(str(exc))
            return getattr(exc, "exit_code", 1)  # report's --strict refusal exits 2
        else:  # an unexpected failure still gets one line, and a hint
            _error_line(f"{exc.__class__.__name__}: {exc} (run with --debug for the traceback)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
