"""The bad-input catalogue: every case, in a real process, ends with one line and exit status 2.

Each case runs in its own folder holding a finished study (``existing.db``) and a
user's data file (``user.csv``); after the command both must be byte for byte what
they were, whatever the command pointed at. The cases run four at a time in a
module fixture; each is then checked by its own test.

Nearly all of a case's time is the start-up imports (torch, pandas: about 3 s a
process on a 2-core machine), not the command. So every case runs in a process
forked from one that has already imported the engine (``FORKING_RUNNER``): a real
process of its own, with its own folder, environment, file descriptors, exit
status and interpreter shutdown, running ``automl.cli.main`` as ``python -m``
does. That the imports themselves print nothing is checked once (the forking
process's own stderr), and a sample of the cases, one or more per section
(``FRESH``), also runs in a fresh ``python -m automl.cli.main`` and must end
with the same line and status.
"""

from __future__ import annotations

import hashlib
import json
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


# A sample of the catalogue, one or more cases per section, that also runs in a fresh interpreter.
FRESH = {
    "no space",
    "unknown device",
    "cuda without a GPU",
    "scheduler without protocol",
    "unknown option",
    "space syntax error",
    "space does not compile",
    "broken parquet",
    "fresh on a user's sqlite",
    "resume a damaged study",
    "invalid config",
    "export a missing trial",
}

# Reads the jobs (JSON on stdin), imports the command and the engine it loads (torch, pandas, the strategies)
# once, then forks one process per job, four at a time, and prints their exit statuses (JSON) when all are done.
# A child takes its job's folder, environment and output files (file descriptors 1 and 2), then runs the command
# as the installed ``automl`` script does and leaves through the interpreter's normal shutdown (atexit, flushes).
FORKING_RUNNER = """
import json, os, signal, sys

jobs = json.load(sys.stdin)
from automl.cli.main import main
import automl.api


def serve():
    running, codes = {}, [None] * len(jobs)
    for index, job in enumerate(jobs):
        while len(running) >= 4:
            pid, status = os.wait()
            codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            return job
        running[pid] = index
    while running:
        pid, status = os.wait()
        codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    print(json.dumps(codes))
    return None


job = serve()
if job is not None:
    for descriptor, name in ((1, "stdout"), (2, "stderr")):
        opened = os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(opened, descriptor)
        os.close(opened)
    os.chdir(job["folder"])
    sys.path[0] = job["folder"]  # as for a command started in that folder
    os.environ.update(job["environment"])
    sys.argv = ["automl", *job["arguments"]]
    signal.alarm(300)  # a case that hangs ends killed by SIGALRM (status -14), named by its own test
    sys.exit(main())
"""


@dataclass
class Outcomes:
    forked: dict[str, tuple[subprocess.CompletedProcess, list[str]]]  # every case: (its process, files changed)
    fresh: dict[str, tuple[subprocess.CompletedProcess, list[str]]]  # the FRESH cases, each in a new interpreter
    runner_stderr: str  # what importing the engine printed in the forking process
    base: Path  # the cases' folders are base/forked/<case> and base/fresh/<case>


def _environment(extra: dict[str, str]) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONHASHSEED"}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(extra)
    return environment


def assert_one_line_and_exit_2(case: Case, completed: subprocess.CompletedProcess, changed: list[str]) -> None:
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output, output
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert completed.returncode == 2, output
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert case.expected in lines[0], lines[0]
    assert not changed, f"{changed} changed"


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

    def prepare(case: Case, runner: str):
        folder = base / runner / case.name.replace(" ", "-").replace("'", "")
        folder.mkdir(parents=True)
        shutil.copy(study, folder / "existing.db")
        (folder / "user.csv").write_text(user_csv)
        for name in case.prepare:
            _make(folder, name, study)
        watched = {
            name: _sha(folder / name)
            for name in ("existing.db", "user.csv", *case.prepare)
            if (folder / name).is_file()
        }
        return folder, watched

    def changed(folder: Path, watched: dict[str, str]) -> list[str]:
        return [name for name, digest in watched.items() if _sha(folder / name) != digest]

    prepared = {case.name: prepare(case, "forked") for case in CASES}
    jobs = [
        {
            "folder": str(prepared[case.name][0]),
            "arguments": case.arguments,
            "environment": case.environment,
            "stdout": str(base / f"{index}.stdout"),
            "stderr": str(base / f"{index}.stderr"),
        }
        for index, case in enumerate(CASES)
    ]
    runner = subprocess.run(
        [sys.executable, "-c", FORKING_RUNNER],
        input=json.dumps(jobs),
        cwd=base,
        capture_output=True,
        text=True,
        timeout=900,  # past every case's own 300 s alarm
        env=_environment({}),
    )
    assert runner.returncode == 0, runner.stderr
    codes = json.loads(runner.stdout)
    results: dict[str, tuple] = {}
    for case, job, code in zip(CASES, jobs, codes, strict=True):
        completed = subprocess.CompletedProcess(
            case.arguments, code, Path(job["stdout"]).read_text(), Path(job["stderr"]).read_text()
        )
        results[case.name] = (completed, changed(*prepared[case.name]))

    def run_fresh(case: Case):
        folder, watched = prepare(case, "fresh")
        completed = subprocess.run(
            [sys.executable, "-m", "automl.cli.main", *case.arguments],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
            env=_environment(case.environment),
        )
        return completed, changed(folder, watched)

    fresh_cases = [case for case in CASES if case.name in FRESH]
    with ThreadPoolExecutor(max_workers=4) as pool:
        fresh = dict(zip([case.name for case in fresh_cases], pool.map(run_fresh, fresh_cases)))
    return Outcomes(results, fresh, runner.stderr, base)


def test_the_catalogue_is_large():
    assert len(CASES) >= 45
    assert len({case.name for case in CASES}) == len(CASES)


def test_the_fresh_sample_covers_every_section():
    assert {case.name for case in CASES} >= FRESH
    assert len(FRESH) >= 10


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gives_one_line_and_exit_2(case, outcomes):
    assert_one_line_and_exit_2(case, *outcomes.forked[case.name])


def test_importing_the_engine_prints_nothing(outcomes):
    """Each case's process starts with the engine imported; a warning of those imports would be here."""
    assert outcomes.runner_stderr == ""


FRESH_CASES = [case for case in CASES if case.name in FRESH]


@pytest.mark.parametrize("case", FRESH_CASES, ids=[case.name for case in FRESH_CASES])
def test_a_fresh_interpreter_ends_with_the_same_line_and_exit_2(case, outcomes):
    completed, changed = outcomes.fresh[case.name]
    assert_one_line_and_exit_2(case, completed, changed)
    forked, _ = outcomes.forked[case.name]
    same_folder = completed.stderr.replace(str(outcomes.base / "fresh"), str(outcomes.base / "forked"))
    assert same_folder.strip() == forked.stderr.strip(), (completed.stderr, forked.stderr)
    assert completed.returncode == forked.returncode
