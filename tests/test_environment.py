"""environment.yml (the local-GPU path) agrees with pyproject.toml: the same packages at the same floors."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _reqs(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        r = Requirement(line)
        out[r.name.lower()] = str(r.specifier)
    return out


def test_environment_yml_has_pyprojects_floors():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    want = _reqs(project["dependencies"] + extras["test"] + extras["notebook"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert '-e ".[test,notebook]"' in pip  # the package itself, with the extras compared here
    got = _reqs(line for line in pip if not line.startswith("-e"))
    assert got == want, {k: (got.get(k), want.get(k)) for k in set(got) | set(want) if got.get(k) != want.get(k)}
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python == "python" + project["requires-python"]
