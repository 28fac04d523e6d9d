"""Project files that keep a fresh clone working: environment.yml vs pyproject, Makefile targets."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_environment_yml_installs_the_project_with_its_dev_extra() -> None:
    """conda users get the same Python and the same dependencies as the venv (via -e .[dev])."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    minimum = re.search(r">=\s*(3\.\d+)", pyproject["project"]["requires-python"]).group(1)
    assert python == f"python={minimum}"
    assert "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip == ["-e .[dev]"]
    assert "dev" in pyproject["project"]["optional-dependencies"]
    # Every conda package named besides python/pip must also be a project dependency.
    extra = {d.split("=")[0] for d in deps if isinstance(d, str)} - {"python", "pip"}
    assert not extra, f"environment.yml pins packages outside pyproject: {extra}"


def test_pyproject_caps_the_majors_that_break_us() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "mcp>=2.3,<3" in deps and "stripe>=16,<17" in deps


def test_makefile_has_the_documented_targets() -> None:
    makefile = (REPO / "Makefile").read_text()
    for target in ("help", "report", "test", "lab", "bench", "clean"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert ".DEFAULT_GOAL := help" in makefile
