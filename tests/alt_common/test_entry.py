"""The exit-code contract of alt_common.entry.run, in a real process."""

import subprocess
import sys

# A command whose object's finalizer takes the Ctrl-C: Python prints and drops a KeyboardInterrupt
# raised in __del__, so without entry's unraisable hook the command would finish and exit 0.
SCRIPT = """
import gc, signal, sys, time
import typer
from rich.console import Console
from alt_common.entry import run

app = typer.Typer()

class Finalized:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)  # the Ctrl-C arrives while the collector runs this
        sum(range(10_000))  # ...and the handler's KeyboardInterrupt is raised here

@app.command()
def main() -> None:
    item = Finalized()
    item.cycle = item
    del item
    gc.collect()
    time.sleep(1)
    print("finished")

run(app, Console(stderr=True), Console())
"""


def test_a_ctrl_c_taken_by_a_finalizer_still_interrupts_the_command():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stdout + done.stderr
    assert "finished" not in done.stdout
    assert "interrupted; nothing was written" in done.stderr and "Traceback" not in done.stderr


# A command whose Ctrl-C lands inside an `exec` of a string (dataclasses, typing and scipy run such while modules
# import). CPython then remembers the KeyboardInterrupt as unhandled, and `python -m` kills itself with SIGINT at
# exit (-2) after the command has caught it, printed its line and asked for 130.
COMMAND_IN_EXEC = """
import typer
from rich.console import Console
from alt_common.entry import run

app = typer.Typer()

@app.command()
def main() -> None:
    exec("import signal; signal.raise_signal(signal.SIGINT); sum(range(10_000))")
    print("finished")

run(app, Console(stderr=True), Console())
"""

IMPORT_IN_EXEC = """
from alt_common.errors import exit_interrupted

try:
    exec("import signal; signal.raise_signal(signal.SIGINT); sum(range(10_000))")
except KeyboardInterrupt:
    exit_interrupted()
"""


def _run_module(tmp_path, source: str) -> subprocess.CompletedProcess:
    (tmp_path / "ctrl_c_command.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "ctrl_c_command"], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_a_ctrl_c_inside_an_exec_of_a_string_exits_130_under_python_m(tmp_path):
    for source in (COMMAND_IN_EXEC, IMPORT_IN_EXEC):
        done = _run_module(tmp_path, source)
        assert done.returncode == 130, done.stdout + done.stderr
        assert done.stderr.strip() == "interrupted; nothing was written" and "finished" not in done.stdout


def test_without_the_reset_python_m_dies_of_sigint_after_a_ctrl_c_caught_in_an_exec(tmp_path):
    """The interpreter behaviour `errors.exit_with` works around: should a Python release fix it, this fails and the
    workaround can go."""
    done = _run_module(tmp_path, IMPORT_IN_EXEC.replace("exit_interrupted()", "raise SystemExit(130)"))
    assert done.returncode == -2, done.stdout + done.stderr
