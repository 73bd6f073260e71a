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
