"""The set-up files agree: environment.yml pins exactly what pyproject.toml pins; torch is pinned to
the pair that installs here; the README's test command is what .ci/run runs (then the browser test);
import stays light."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for extra in project.get("optional-dependencies", {}).values() for d in extra]
    return sorted(d.replace(" ", "").lower() for d in deps)


def environment_pins():
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("  - pip:")
    pins = [ln.strip()[2:].strip() for ln in lines[start + 1:] if ln.strip().startswith("- ")]
    return sorted(p.replace(" ", "").lower() for p in pins if not p.startswith("-e"))


def test_environment_yml_lists_the_same_pins_as_pyproject():
    assert environment_pins() == pyproject_pins()


def test_every_dependency_is_pinned_exactly_and_torch_pair_is_the_local_one():
    pins = pyproject_pins()
    assert all(re.fullmatch(r"[a-z0-9_.\-]+==[0-9][0-9a-z.]*", p) for p in pins), pins
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^make test\b", readme, re.M)
    assert command, "README must state `make test`"
    ci = [ln.strip() for ln in (ROOT / ".ci/run").read_text().splitlines() if ln and not ln.startswith("#")]
    assert ci[-2:] == ["make test", "make browser-test"]
    assert re.search(r"^make browser-test\b", readme, re.M), "README must say how to run the browser test"


def test_the_browser_extra_pins_playwright_and_the_makefile_installs_it():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert [p for p in extras["browser"] if p.startswith("playwright==")], extras
    makefile = (ROOT / "Makefile").read_text()
    assert 'pip install --quiet -e ".[browser]"' in makefile and "course.browser" in makefile


def test_import_minseg_does_not_import_torch_or_numba_kernels():
    code = ("import sys, minseg, minseg.functional, minseg.nn, minseg.optim; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_makefile_quiet_env_matches_quiet_workers():
    from minseg.threads import QUIET_WORKERS

    line = next(ln for ln in (ROOT / "Makefile").read_text().splitlines() if ln.startswith("QUIET_ENV :="))
    assert dict(pair.split("=") for pair in line.split(":=")[1].split()) == QUIET_WORKERS
    makefile = (ROOT / "Makefile").read_text()
    for command in ("jupyter lab", "-m course grade", "-m benchmarks"):
        assert any(command in ln and "$(QUIET_ENV)" in ln for ln in makefile.splitlines()), command


def test_import_minseg_quiets_worker_threads_before_numpy_loads_and_keeps_a_users_choice():
    from minseg.threads import QUIET_WORKERS

    code = ("import os, sys; import minseg; "
            "print(repr({k: os.environ.get(k) for k in %r}))" % sorted(QUIET_WORKERS))
    env = {k: v for k, v in __import__("os").environ.items() if k not in QUIET_WORKERS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert eval(out.stdout) == QUIET_WORKERS
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert eval(out.stdout) == {**QUIET_WORKERS, "OMP_WAIT_POLICY": "ACTIVE"}
