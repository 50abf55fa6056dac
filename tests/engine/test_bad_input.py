"""The bad-input catalogue: every case, in a real process, ends with one line and exit status 2.

Each case runs in its own folder holding a finished study (``existing.db``) and a
user's data file (``user.csv``); after the command both must be byte for byte what
they were, whatever the command pointed at. The cases run four at a time in a
module fixture; each is then checked by its own test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MLP = str(ROOT / "search_spaces" / "mlp.py")
SEARCH = ["search", MLP, "--data", "digits-flat", "--epochs", "1", "--trials", "1", "-q"]

SPACE_FILES = {
    "syntax.py": "def broken(:\n",
    "raises_on_import.py": "raise RuntimeError('the space module fails')\n",
    "nothing.py": "x = 1\n",
    "two.py": (
        "from automl import space as s\n"
        "@s.search_space\ndef a(x):\n    return s.op.linear(x, units=s.OUTPUTS)\n"
        "@s.search_space\ndef b(x):\n    return s.op.linear(x, units=s.OUTPUTS)\n"
    ),
    "raises_when_built.py": ("from automl import space as s\n@s.search_space\ndef bad(x):\n    return 1 / 0\n"),
    "shape_error.py": (
        "from automl import space as s\n"
        "@s.search_space\ndef image(x):\n"
        "    x = s.op.conv2d(x, channels=4, kernel=3)\n    return s.op.linear(x, units=s.OUTPUTS)\n"
    ),
    "space.txt": "not python\n",
}


@dataclass
class Case:
    name: str
    arguments: list[str]
    expected: str  # a part of the one error line that names what is wrong
    prepare: list[str] = field(default_factory=list)  # names of extra files to make in the case's folder
    environment: dict[str, str] = field(default_factory=dict)  # set for the command


CASES = [
    # the command line itself
    Case("no space", ["search", "--data", "digits"], "give the space file"),
    Case("no data", ["search", MLP], "give the data"),
    Case("resume and fresh", [*SEARCH, "--study", "new.db", "--resume", "--fresh"], "contradict"),
    Case("zero trials", [*SEARCH[:-3], "--trials", "0", "-q"], "trials must be at least 1"),
    Case("negative trials", [*SEARCH[:-3], "--trials", "-3", "-q"], "trials must be at least 1"),
    Case("negative time budget", [*SEARCH, "--time-budget", "-5"], "time budget must be > 0"),
    Case("zero time budget", [*SEARCH, "--time-budget", "0"], "time budget must be > 0"),
    Case("zero trial seconds", [*SEARCH, "--trial-seconds", "0"], "trial seconds must be > 0"),
    Case("keep zero", [*SEARCH, "--keep", "0"], "keep must be at least 1"),
    Case("keep negative", [*SEARCH, "--keep", "-1"], "keep must be at least 1"),
    Case("zero epochs", [*SEARCH[:4], "--epochs", "0", "--trials", "1", "-q"], "epochs"),
    Case("zero batch size", [*SEARCH, "--batch-size", "0"], "batch_size"),
    Case("negative learning rate", [*SEARCH, "--learning-rate", "-1"], "learning_rate"),
    Case("unknown device", [*SEARCH, "--device", "quantum"], "unknown device"),
    # the machine's GPUs hidden, so that the case holds on a machine that has one
    Case("cuda without a GPU", [*SEARCH, "--device", "cuda"], "no CUDA", environment={"CUDA_VISIBLE_DEVICES": ""}),
    Case("workers zero", [*SEARCH, "--workers", "0"], "workers"),
    Case("scheduler without protocol", [*SEARCH, "--scheduler", "127.0.0.1:8786"], "needs a protocol"),
    Case("scheduler and workers", [*SEARCH, "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "not both"),
    Case("bad trial memory", [*SEARCH, "--trial-memory", "lots"], "lots"),
    # strategies and their options
    Case("unknown strategy", [*SEARCH, "--strategy", "annealing"], "unknown strategy 'annealing'"),
    Case("option without value", [*SEARCH, "--strategy-option", "bins"], "KEY=VALUE"),
    Case("unknown option", [*SEARCH, "--strategy", "mcts", "--strategy-option", "bin=3"], "did you mean 'bins'"),
    Case("option out of range", [*SEARCH, "--strategy", "mcts", "--strategy-option", "bins=1"], "bins=1"),
    Case("option of a wrong type", [*SEARCH, "--strategy", "mcts", "--strategy-option", "bins='many'"], "bins"),
    Case("option not in its choices", [*SEARCH, "--strategy", "mcts", "--strategy-option", "normalise='z'"], "one of"),
    # the space
    Case("missing space file", ["search", "nope.py", "--data", "digits"], "not found"),
    Case("space not a python file", ["search", "space.txt", "--data", "digits"], ".py", ["space.txt"]),
    Case("space syntax error", ["search", "syntax.py", "--data", "digits"], "syntax error", ["syntax.py"]),
    Case(
        "space raises on import",
        ["search", "raises_on_import.py", "--data", "digits"],
        "the space module fails",
        ["raises_on_import.py"],
    ),
    Case("space file without a space", ["search", "nothing.py", "--data", "digits"], "defines no", ["nothing.py"]),
    Case("two spaces in a file", ["search", "two.py", "--data", "digits"], "pick one with :function", ["two.py"]),
    Case("missing function", ["search", "two.py:c", "--data", "digits"], "no function 'c'", ["two.py"]),
    Case(
        "space raises while built",
        ["search", "raises_when_built.py", "--data", "digits", "-q"],
        "ZeroDivisionError",
        ["raises_when_built.py"],
    ),
    Case(
        "space does not compile",
        ["search", "shape_error.py", "--data", "digits-flat", "-q"],
        "does not compile",
        ["shape_error.py"],
    ),
    # the data
    Case("unknown data set", ["search", MLP, "--data", "imagenet"], "imagenet"),
    Case("missing data file", ["search", MLP, "--data", "missing.csv", "--target", "y"], "missing.csv"),
    Case("csv without target", ["search", MLP, "--data", "user.csv"], "--target"),
    Case("csv with a wrong column", ["search", MLP, "--data", "user.csv", "--target", "nope"], "nope"),
    Case("empty csv", ["search", MLP, "--data", "empty.csv", "--target", "y"], "empty", ["empty.csv"]),
    Case(
        "broken parquet",
        ["search", MLP, "--data", "broken.parquet", "--target", "y"],
        "broken.parquet",
        ["broken.parquet"],
    ),
    Case("unknown ranker", [*SEARCH, "--rank-features", "psychic"], "psychic"),
    # the study and the user's files
    Case("fresh on a user's csv", [*SEARCH, "--study", "user.csv", "--fresh"], "not an automl study"),
    Case(
        "fresh on a user's sqlite", [*SEARCH, "--study", "own.sqlite", "--fresh"], "not an automl study", ["own.sqlite"]
    ),
    Case("fresh on a folder", [*SEARCH, "--study", "folder", "--fresh"], "directory", ["folder"]),
    Case("study is a user's csv", [*SEARCH, "--study", "user.csv"], "user.csv"),
    Case("study under a file", [*SEARCH, "--study", "user.csv/study.db"], "is a file"),
    Case("study on a virtual file system", [*SEARCH, "--study", "/proc/automl/study.db"], "/proc"),
    Case("study without resume", [*SEARCH, "--study", "existing.db"], "--resume"),
    Case(
        "resume with another strategy",
        [*SEARCH, "--study", "existing.db", "--resume", "--strategy", "mcts"],
        "strategy",
    ),
    Case(
        "resume with other epochs", [*SEARCH[:4], "--epochs", "3", "--study", "existing.db", "--resume", "-q"], "epochs"
    ),
    Case(
        "resume with other data",
        ["search", MLP, "--data", "digits", "--epochs", "1", "--study", "existing.db", "--resume", "-q"],
        "data",
    ),
    Case("resume a damaged study", [*SEARCH, "--study", "damaged.db", "--resume"], "damaged", ["damaged.db"]),
    # the configuration file
    Case("missing config", [*SEARCH, "--config", "none.toml"], "none.toml"),
    Case("invalid config", [*SEARCH, "--config", "bad.toml"], "not valid TOML", ["bad.toml"]),
    Case("unknown config key", [*SEARCH, "--config", "unknown.toml"], "colour", ["unknown.toml"]),
    # reading commands
    Case("show a missing study", ["show", "missing.db"], "does not exist"),
    Case("show a user's csv", ["show", "user.csv"], "not a study"),
    Case("show a damaged study", ["show", "damaged.db"], "damaged", ["damaged.db"]),
    Case("plot a user's csv", ["plot", "user.csv"], "not a study"),
    Case("export onto a file", ["export", "existing.db", "-o", "user.csv"], "user.csv"),
    Case("export a missing trial", ["export", "existing.db", "--trial", "99", "-o", "out"], "no trial 99"),
    Case("export a user's csv", ["export", "user.csv", "-o", "out"], "not a study"),
]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _make(folder: Path, name: str, study: Path) -> None:
    target = folder / name
    if name in SPACE_FILES:
        target.write_text(SPACE_FILES[name])
    elif name == "empty.csv":
        target.write_text("")
    elif name == "broken.parquet":
        target.write_bytes(b"PAR1 this is not parquet")
    elif name == "own.sqlite":
        with sqlite3.connect(target) as connection:
            connection.execute("CREATE TABLE recipes (name TEXT)")
            connection.execute("INSERT INTO recipes VALUES ('bread')")
        connection.close()
    elif name == "folder":
        target.mkdir()
    elif name == "damaged.db":
        data = bytearray(study.read_bytes())
        for offset in range(4096, min(len(data), 4096 * 3)):  # garble the pages after the header
            data[offset] = 0x5A
        target.write_bytes(bytes(data))
    elif name == "bad.toml":
        target.write_text("trials = = 3\n")
    elif name == "unknown.toml":
        target.write_text("colour = 'blue'\n")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    import automl

    base = tmp_path_factory.mktemp("bad-input")
    study = base / "existing.db"
    automl.search(MLP, "digits-flat", trials=2, epochs=1, study=study).close()
    with sqlite3.connect(study) as connection:  # fold the WAL into the file: readers then change nothing
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    user_csv = "x1,x2,y\n" + "".join(f"{i},{i * 2 % 7},{i % 2}\n" for i in range(30))

    def run(case: Case):
        folder = base / case.name.replace(" ", "-").replace("'", "")
        folder.mkdir()
        shutil.copy(study, folder / "existing.db")
        (folder / "user.csv").write_text(user_csv)
        for name in case.prepare:
            _make(folder, name, study)
        watched = {
            name: _sha(folder / name)
            for name in ("existing.db", "user.csv", *case.prepare)
            if (folder / name).is_file()
        }
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONHASHSEED"}
        environment["PYTHONPATH"] = str(ROOT)
        environment.update(case.environment)
        completed = subprocess.run(
            [sys.executable, "-m", "automl.cli.main", *case.arguments],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
            env=environment,
        )
        changed = [name for name, digest in watched.items() if _sha(folder / name) != digest]
        return completed, changed

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip([case.name for case in CASES], pool.map(run, CASES)))
    return results


def test_the_catalogue_is_large():
    assert len(CASES) >= 45
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gives_one_line_and_exit_2(case, outcomes):
    completed, changed = outcomes[case.name]
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output, output
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert completed.returncode == 2, output
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert case.expected in lines[0], lines[0]
    assert not changed, f"{changed} changed"
