"""docs/scheduling.md: every recipe is at least syntax-checked. The cron fields are valid, the
GitHub Actions workflow is YAML of the expected shape, the Airflow DAG compiles, its notebooks and
parameters exist, and every `unifiedmcp` command line parses with the CLI's own parser (so a
renamed option breaks this test, not a 6 a.m. run)."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import papermill as pm
import pytest
import typer
import yaml

from unifiedmcp.cli._app import app
from unifiedmcp.reports import REPORTS

DOC = Path(__file__).resolve().parents[2] / "docs" / "scheduling.md"
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks" / "reports"
_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def _parse_cli(args: list[str]) -> dict:
    """Parse ``unifiedmcp ARGS`` down to the sub-command without running it; raises on an unknown
    command or option, or a bad value."""
    command = typer.main.get_command(app)
    ctx = command.make_context("unifiedmcp", list(args))
    while hasattr(command, "resolve_command"):
        _, command, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        ctx = command.make_context(command.name, rest, parent=ctx)
    return ctx.params


def _unifiedmcp_commands(shell: str) -> list[list[str]]:
    """Each `…/unifiedmcp ARGS` in a shell line, its arguments up to the next && or redirection."""
    out = []
    for segment in re.split(r"&&|\|\||;", shell):
        words = shlex.split(segment.split(">>")[0])
        for i, word in enumerate(words):
            if word == "unifiedmcp" or word.endswith("/bin/unifiedmcp"):
                out.append(words[i + 1:])
    return out


def _check_cron(expression: str) -> None:
    fields = expression.split()
    assert len(fields) == 5, expression
    for field, (low, high) in zip(fields, _RANGES, strict=True):
        assert _FIELD.match(field), field
        assert all(low <= int(n) <= high for n in re.findall(r"(?<!/)\b\d+", field)), field


def test_cron_lines_are_valid_and_their_commands_parse() -> None:
    [block] = _blocks("cron")
    lines = [ln for ln in block.splitlines() if ln.strip()]
    assert len(lines) == 2
    commands = []
    for line in lines:
        _check_cron(" ".join(line.split()[:5]))
        commands += _unifiedmcp_commands(" ".join(line.split()[5:]))
    assert [c[:2] for c in commands] == [["warehouse", "sync"], ["warehouse", "pull-usage"], ["report", "--latest"],
                                         ["alerts", "check"]]
    for args in commands:
        _parse_cli(args)
    assert _parse_cli(commands[2])["strict"] is True


def test_github_actions_workflow_is_valid_yaml_with_secrets_only_from_the_secret_store() -> None:
    [block] = _blocks("yaml")
    workflow = yaml.safe_load(block)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    for schedule in triggers["schedule"]:
        _check_cron(schedule["cron"])
    steps = workflow["jobs"]["reports"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    commands = [args for run in runs for args in _unifiedmcp_commands(run)]
    assert {tuple(c[:2]) for c in commands} == {("warehouse", "sync"), ("report", "--latest"), ("alerts", "check")}
    for args in commands:
        _parse_cli(args)
    # Secrets come from the secret store, into the environment, never into a command line.
    assert not re.search(r"(sk|rk)_(test|live)_|whsec_|hooks\.slack\.com", block)
    assert all("${{ secrets." not in run for run in runs)
    assert workflow["jobs"]["reports"]["env"]["STRIPE_API_KEY"] == "${{ secrets.STRIPE_RESTRICTED_KEY }}"


def test_airflow_dag_compiles_and_runs_the_real_notebooks_with_their_parameters() -> None:
    [block] = _blocks("python")
    tree = ast.parse(block)
    compile(tree, "unifiedmcp_dag.py", "exec")
    constants: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.isupper():
            exec(compile(ast.Module(body=[node], type_ignores=[]), "dag", "exec"), constants)  # noqa: S102
    assert constants["REPORTS"] == tuple(REPORTS)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PapermillOperator"]
    assert len(calls) == 1
    keywords = {k.arg: k.value for k in calls[0].keywords}
    parameters = ast.literal_eval(ast.unparse(keywords["parameters"]).replace("MONTH", repr("2026-10"))
                                  .replace("WAREHOUSE", repr("/srv/w.duckdb")))
    for name in REPORTS:
        declared = pm.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))
        assert set(parameters) <= set(declared), name
    bash = [eval(compile(ast.Expression(k.value), "dag", "eval"), dict(constants))  # noqa: S307
            for n in ast.walk(tree) if isinstance(n, ast.Call)
            for k in n.keywords if k.arg == "bash_command"]
    commands = [args for line in bash for args in _unifiedmcp_commands(re.sub(r"\{\{.*?\}\}", "2026-10", line))]
    assert [c[0] for c in commands] == ["warehouse", "warehouse", "report"]
    for args in commands:
        _parse_cli(args)


def test_the_parser_used_above_does_refuse_an_unknown_option() -> None:
    """Control: an option the CLI does not have is refused, so the checks above mean something."""
    with pytest.raises(Exception, match="No such option"):
        _parse_cli(["report", "--latest", "--no-such-option"])
