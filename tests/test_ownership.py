"""Own only what you made (issue #14): compile replaces a build, never a folder syllabus did not
write; it sweeps its own dead temp folders only; SIGTERM cleans up like Ctrl-C; a crashed train
says so in run.json; and the CLI ends every error in a message, never a traceback."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from tests.conftest import ROOT, SPECS

SPEC = SPECS / "blue_products.yaml"


def _compile(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["compile", str(SPEC), *args], env=env)


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output, result.output


def test_a_non_empty_folder_that_is_not_a_build_is_refused(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8")
    result = _compile("--out", str(out))
    assert result.exit_code == 2, result.output
    assert "not a syllabus build" in result.stderr and "holiday.jpg" in result.stderr and "--force" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]
    assert [p.name for p in tmp_path.iterdir()] == ["photos"], "no temp folder left behind"


def test_a_build_holding_files_it_did_not_write_is_refused(tmp_path, blue_build):
    out = tmp_path / "b"
    shutil.copytree(blue_build, out)
    (out / "tasks" / "__pycache__").mkdir()  # lm-eval's, as the manifest allows
    (out / "tasks" / "__pycache__" / "utils.pyc").write_bytes(b"x")
    (out / "notes.md").write_text("mine")
    result = _compile("--out", str(out))
    assert result.exit_code == 2 and "1 file it did not write (notes.md)" in result.stderr, result.output
    assert (out / "notes.md").read_text() == "mine"


def test_force_replaces_a_folder_that_is_not_a_build(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8")
    result = _compile("--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert not (out / "holiday.jpg").exists() and (out / "manifest.json").is_file()


def test_a_previous_build_and_an_empty_folder_are_replaced(tmp_path, blue_build):
    out = tmp_path / "b"
    shutil.copytree(blue_build, out)
    (out / "data" / "train.jsonl").write_text("edited\n")  # a file the build wrote, changed: still ours
    assert _compile("--out", str(out)).exit_code == 0
    assert (out / "data" / "train.jsonl").read_bytes() == (blue_build / "data" / "train.jsonl").read_bytes()
    (tmp_path / "empty").mkdir()
    assert _compile("--out", str(tmp_path / "empty")).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "empty"], "no temp or old folder left behind"


@pytest.mark.parametrize("where", [".", "..", "/", "home", "spec folder"])
def test_out_holding_the_current_directory_home_or_the_spec_is_refused(tmp_path, monkeypatch, where):
    home, specs, cwd = tmp_path / "home", tmp_path / "specs", tmp_path / "home" / "work"
    cwd.mkdir(parents=True)
    specs.mkdir()
    shutil.copy(SPEC, specs / "blue.yaml")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    out = {"home": str(home), "spec folder": str(specs)}.get(where, where)
    result = CliRunner().invoke(main, ["compile", str(specs / "blue.yaml"), "--out", out, "--force"])
    assert result.exit_code == 2, result.output
    _no_traceback(result)
    assert "compile replaces its --out folder whole" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "specs"] and os.listdir(cwd) == []


def test_a_file_in_the_way_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("build").write_text("not a folder")
    default = _compile()  # build/<name>: under the file
    assert default.exit_code == 2
    assert "build: a file is in the way of the build folder build/blue-products" in default.stderr
    itself = _compile("--out", "build", "--force")
    assert itself.exit_code == 2 and "a file is in the way" in itself.stderr
    _no_traceback(default)
    _no_traceback(itself)
    assert Path("build").read_text() == "not a folder"


def _owned_temp(parent: Path, name: str, pid: int, host: str | None = None) -> Path:
    """A temp folder as build.ownership.temp_folder makes it, with a 1 MB file in it."""
    folder = parent / f".b.{pid}.{name}.tmp"
    folder.mkdir()
    (folder / "syllabus-compile.json").write_text(json.dumps({"pid": pid, "host": host or socket.gethostname()}))
    (folder / "build").mkdir()
    (folder / "build" / "train.parquet").write_bytes(b"0" * 2**20)
    return folder


def test_stale_temp_folders_are_removed_and_live_or_foreign_ones_kept(tmp_path):
    from compiler.pipeline import compile_spec

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        killed = _owned_temp(tmp_path, "aaaaaaaa", dead)
        running = _owned_temp(tmp_path, "bbbbbbbb", live.pid)  # a concurrent compile: kept
        unmarked = tmp_path / f".b.{dead}.cccccccc.tmp"  # named like ours, but no owner file
        unmarked.mkdir()
        elsewhere_old = _owned_temp(tmp_path, "dddddddd", live.pid, host="another-machine")
        hour_ago = time.time() - 2 * 3600
        os.utime(elsewhere_old / "syllabus-compile.json", (hour_ago, hour_ago))
        elsewhere_new = _owned_temp(tmp_path, "eeeeeeee", live.pid, host="another-machine")
        other_name = tmp_path / f".b.{dead}.tmp"
        other_name.mkdir()
        compile_spec(SPEC, tmp_path / "b")
        left = {p for p in tmp_path.iterdir() if p.name.startswith(".")}
        assert left == {running, unmarked, elsewhere_new, other_name}
        assert not killed.exists() and not elsewhere_old.exists()
    finally:
        live.kill()
        live.wait()


_SLOW_COMPILE = """
import sys, time
import compiler.build.write as B
write_rows = B._write_rows
def slow(*args):
    write_rows(*args)
    time.sleep(60)  # long enough for the test to send SIGTERM while the temp folder exists
B._write_rows = slow
from compiler.cli import main
main(["compile", sys.argv[1], "--out", sys.argv[2]])
"""


def test_sigterm_during_compile_removes_the_temp_folder(tmp_path):
    out = tmp_path / "b"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_COMPILE, str(SPEC), str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(".b.*.tmp/build/data/*.parquet")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no temp folder within 30 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and stderr.rstrip().endswith("interrupted"), stderr
    assert "Traceback" not in stderr and list(tmp_path.iterdir()) == []


def test_a_crashed_train_records_status_failed(tmp_path, monkeypatch):
    from compiler.training import lora as T
    from compiler.training import trainer
    from tests._tiny import tiny_examples, tiny_loaded

    def crash(model, batch):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(trainer, "batch_loss", crash)
    settings = T.TrainSettings(epochs=1, batch_size=4, checkpoint_every=1000)
    with pytest.raises(RuntimeError, match="simulated"):
        T.train_lora(tiny_loaded(), tiny_examples(), settings, tmp_path / "run", build_sha256="b" * 64, progress=False)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "failed" and record["error"] == "RuntimeError: CUDA out of memory (simulated)"
    T.check_resume(tmp_path / "run", "b" * 64, settings)  # a failed run may be resumed from its last checkpoint


@pytest.mark.parametrize("corrupt", ["not json", "a list", "no fields", "a folder"])
def test_resume_of_a_corrupt_run_json_exits_2(tmp_path, blue_build, corrupt):
    run = tmp_path / "run"
    run.mkdir()
    if corrupt == "a folder":
        (run / "run.json").mkdir()
    else:
        (run / "run.json").write_text({"not json": '{"status": "runn', "a list": "[1, 2]",
                                       "no fields": '{"status": "interrupted"}'}[corrupt])
    result = CliRunner().invoke(main, ["train", str(blue_build), "--resume", str(run), "--model", "unused"])
    assert result.exit_code == 2, result.output
    _no_traceback(result)
    assert f"{run / 'run.json'}: " in result.stderr and "cannot be resumed" in result.stderr


def test_an_unexpected_error_exits_3_without_a_traceback(monkeypatch):
    from compiler import pipeline

    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(pipeline, "compile_spec", bug)
    result = _compile()
    assert result.exit_code == 3, result.output
    _no_traceback(result)
    assert result.stderr.startswith("error: internal error: ZeroDivisionError: division by zero\n")
    assert "SYLLABUS_DEBUG=1" in result.stderr
    debug = _compile(env={"SYLLABUS_DEBUG": "1"})
    assert isinstance(debug.exception, ZeroDivisionError)


def test_a_full_disk_while_writing_the_build_exits_2_naming_it(tmp_path, monkeypatch, blue_build):
    from compiler.build import write as build

    def full(folder, name, rows):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / f"{name}.jsonl"))

    out = tmp_path / "b"
    shutil.copytree(blue_build, out)
    monkeypatch.setattr(build, "_write_rows", full)
    result = _compile("--out", str(out))
    assert result.exit_code == 2, result.output
    _no_traceback(result)
    assert result.stderr.splitlines()[-1].startswith(f"error: {out}: cannot write the build: No space left on device (")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"] and (out / "manifest.json").is_file()


def test_an_os_error_elsewhere_exits_2_naming_the_path(monkeypatch):
    from compiler import pipeline

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "runs/x/run.json")

    monkeypatch.setattr(pipeline, "compile_spec", denied)
    result = _compile()
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: runs/x/run.json: Permission denied; ")
