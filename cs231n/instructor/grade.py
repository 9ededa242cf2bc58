"""``cs231n grade``: score submissions with the hidden grading tests.

How a grade is decided
----------------------
A grading test (``tests/grading/a<N>.py``, never released) draws *fresh* random inputs
for one function a student wrote, and names a short *probe*: Python code that calls the
function and stores what it returns in a dict ``out``. The grader runs the probe twice:

1. here, in the trusted process, against the reference solution -> the expected values;
2. in a sandboxed child process (``cs231n.instructor.sandbox``) against the student's package
   -> the student's values, returned as plain arrays.

The grader then compares the two (shapes, finiteness, relative error within the test's
tolerance) and awards the test's points or explains, in words a student can act on, what
differed.

Each function earns its points by itself. What a test calls but does not grade (a
model's layers, a recurrent layer's steps, the network a visualization runs) answers
with the reference's values: step 1 records those calls as plain numbers, and the child
answers the student's matching calls with them (``cs231n.instructor.answers``), so a correct
model earns its points beside a stubbed layer, and no reference code reaches the child.
Backward passes get caches the grader builds where the API fixes their layout (affine's
``(x, w, b)``, convolution's ``(x, w, b, conv_param)``); where the student designs the
cache (batch norm, layer norm, the recurrent layers), the test runs the student's own
forward pass for it, says so in its hint and declares it (``uses=``): the gradients are
still checked against the reference's, so a forward pass with a wrong output but a
usable cache costs the backward nothing; only a forward pass that returns no cache at all
does. ``tests/course/test_region_matrix.py`` proves, for every graded region, that it
alone earns exactly its points and that breaking it loses exactly them. The child never sees the grading tests, the reference solution, the expected
values, other submissions or the results files, and it cannot reach the network.

Outputs, per submission: ``<out>/<name>/results.json`` (Gradescope's format) and
``<out>/<name>/feedback.md``; for the batch: ``<out>/gradebook.csv``.
"""

import ast
import copy
import csv
import importlib.util
import io
import json
import os
import pickle
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from cs231n.instructor import answers, readback, sandbox
from cs231n.instructor.release import build_release, parse_assignment
from cs231n.instructor.unpack import (  # noqa: F401 - SubmissionError is part of this API
    SubmissionError,
    overlay_package,
    remove_tree,
    unpack_submission,
)

# The reference probes run in this process, in the threads of a batch: one at a time, so
# that a probe seeding numpy's global random state (dropout) gets the numbers it seeded.
_REFERENCE_LOCK = threading.Lock()
# The reference's answers to the calls a test does not grade travel with its probe.
ANSWER_TABLE_BYTES = 32 * 2**20


# -- grading tests ------------------------------------------------------------------------


@dataclass
class GradingTest:
    """One graded function. ``make(rng)`` returns ``(inputs, probe_code)``."""

    name: str
    points: float
    make: object
    tol: float = 1e-6
    hint: str = ""
    wall_seconds: float = 60.0
    exact: bool = False  # integer outputs compared exactly
    # Optional ``check(inputs, expected, got) -> (ok, why)`` replacing ``compare`` where
    # outputs are random by design (dropout masks): it judges the student's raw outputs
    # here, in the trusted process.
    check: object = None
    # Partial credit: a part of a test ("loss", "gradient") scores only these outputs of
    # the probe; a test without parts scores them all.
    keys: tuple = ()
    part: str = ""
    regions: tuple = ()  # the regions it grades (from its name or the module's COVERS)
    # Functions the test does not grade, answered from the reference's calls
    # ("module:function" or "module:*"; cs231n.instructor.answers).
    answer: tuple = ()
    # Regions of the student's besides its own that the test runs: the forward pass whose
    # cache a backward pass reads, where the API leaves the cache's layout to the student.
    uses: tuple = ()
    label: str = ""  # what students read: the function and the part ("svm_loss_naive: loss")


@dataclass
class Registry:
    tests: list = field(default_factory=list)

    def __call__(
        self,
        name,
        points,
        tol=1e-6,
        hint="",
        wall_seconds=60.0,
        exact=False,
        check=None,
        parts=None,
        answer=(),
        uses=(),
    ):
        """Decorator registering ``f(rng) -> (inputs, code)`` as a grading test.

        ``parts``: {part: (output keys, points)} scores the outputs separately, as tests
        ``<name>.<part>`` (a right loss earns its points beside a wrong gradient); then
        ``points`` is their sum. ``answer``: the functions the probe calls but the test
        does not grade, answered with the reference's values (``cs231n.instructor.answers``).
        ``uses``: regions of the student's the test runs besides its own (a forward pass
        building the cache its backward pass reads, when the API leaves the cache's
        layout to the student); the hint must say so.
        """
        answer, uses = tuple(answer), tuple(uses)

        def register(make):
            if not parts:
                self.tests.append(
                    GradingTest(
                        name,
                        points,
                        make,
                        tol,
                        hint,
                        wall_seconds,
                        exact,
                        check,
                        answer=answer,
                        uses=uses,
                    )
                )
                return make
            if abs(sum(p for _, p in parts.values()) - points) > 1e-9:
                raise ValueError(f"{name}: the parts' points do not add up to {points}.")
            for part, (keys, part_points) in parts.items():
                self.tests.append(
                    GradingTest(
                        f"{name}.{part}",
                        part_points,
                        make,
                        tol,
                        hint,
                        wall_seconds,
                        exact,
                        check,
                        keys=tuple(keys),
                        part=part,
                        answer=answer,
                        uses=uses,
                    )
                )
            return make

        return register


def load_tests(assignment, tests_dir, root=None):
    """The GradingTests of ``assignment`` from ``tests_dir/a<N>.py`` (its ``TESTS``).

    Each test's ``regions``: the module's ``COVERS`` for it, else (given the source tree
    ``root``) the package's regions its name relates to (``a1.knn.predict_labels`` grades
    ``a1.knn.predict_labels.vote``; ``a2.fc_net.forward.normalization`` grades
    ``a2.fc_net.forward``), else its own name.
    """
    _, number = parse_assignment(assignment)
    path = Path(tests_dir) / f"a{number}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no grading tests for assignment {number}: {path} is missing.")
    spec = importlib.util.spec_from_file_location(f"_cs231n_grading_a{number}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    covers = getattr(module, "COVERS", {})
    known = set()
    if root is not None:
        from cs231n.instructor.markers import check_tree

        for path, regions in check_tree(root).items():
            if path.suffix == ".py":
                known.update(r.name for r in regions)
    tests = list(module.TESTS.tests)
    for t in tests:
        base = t.name[: -len(t.part) - 1] if t.part else t.name
        related = sorted(
            r for r in known if r == base or r.startswith(base + ".") or base.startswith(r + ".")
        )
        t.regions = tuple(covers.get(t.name) or covers.get(base) or related or [base])
    return tests


def _is_part_key(key, keys):
    return any(key == k or (k.endswith("*") and key.startswith(k[:-1])) for k in keys)


def student_facing_labels(root, tests):
    """Give each test a label naming the function a student wrote, and the part graded."""
    from cs231n.instructor.markers import check_tree
    from cs231n.instructor.stubs import _enclosing_functions

    functions = {}
    for path, regions in check_tree(root).items():
        if path.suffix != ".py":
            continue
        text = path.read_text(encoding="utf-8")
        found = _enclosing_functions(text)
        classes = [
            (node.lineno, node.end_lineno, node.name)
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.ClassDef)
        ]
        for r in regions:
            inside = [f for f in found if f[0] <= r.begin + 1 <= f[1]]
            if inside:
                first, _, name, _ = max(inside, key=lambda f: f[0])
                owner = [c for c in classes if c[0] <= first <= c[1]]
                if owner:  # a method: name its class too (TwoLayerNet.__init__)
                    name = f"{max(owner, key=lambda c: c[0])[2]}.{name}"
                functions[r.name] = name
    for t in tests:
        names = [functions[r] for r in t.regions if r in functions]
        prefix = [f for r, f in functions.items() if any(r.startswith(x + ".") for x in t.regions)]
        function = (names or prefix or [t.name])[0]
        t.label = f"{function}: {t.part}" if t.part else function


def run_probe(code, inputs):
    """Run a probe in this process (against the reference package); return ``out``."""
    scope = {"np": np, **copy.deepcopy(inputs)}
    exec(compile(code, "<grading probe>", "exec"), scope)
    return {k: np.asarray(v) for k, v in scope["out"].items()}


def _describe_inputs(inputs):
    parts = []
    for k, v in inputs.items():
        if isinstance(v, np.ndarray):
            parts.append(f"{k} of shape {v.shape}")
        elif isinstance(v, (int, float, str, dict, tuple)) and len(repr(v)) < 80:
            parts.append(f"{k}={v!r}")
    return ", ".join(parts)


def compare(expected, got, tol, exact=False):
    """(True, "") if ``got`` matches ``expected``; else (False, what differs)."""
    for key, want in expected.items():
        if key not in got:
            return False, f"no value for '{key}' was returned"
        have = got[key]
        if not isinstance(have, np.ndarray) or have.dtype.kind not in "biuf":
            return False, f"'{key}' has the wrong type (only arrays of numbers count)"
        if have.shape != want.shape:
            return False, f"'{key}' has shape {have.shape}, expected {want.shape}"
        if want.size == 0:
            continue
        if exact or not np.issubdtype(want.dtype, np.floating):
            if not np.array_equal(have, want):
                wrong = int(np.sum(have != want))
                return (
                    False,
                    f"'{key}' differs from the expected values in {wrong} of {want.size} entries",
                )
            continue
        have = have.astype(np.float64)
        if not np.all(np.isfinite(have)):
            return False, f"'{key}' contains NaN or infinite values"
        err = float(np.max(np.abs(have - want) / np.maximum(1e-8, np.abs(have) + np.abs(want))))
        if not err <= tol:
            return (
                False,
                f"'{key}' has relative error {err:.2e} against the expected values (tolerance {tol:.0e})",
            )
    return True, ""


# -- submissions ----------------------------------------------------------------------------
# Unpacking (zips, folders and what they may hide) is ``cs231n.instructor.unpack``; what the
# child returns is read back by ``cs231n.instructor.readback``.

# -- grading --------------------------------------------------------------------------------


def reference_run(test, test_seed):
    """Draw the test's inputs from ``test_seed`` and run its probe against the reference.

    Returns ``(inputs, code, expected, table)``: ``table`` holds the reference's calls to
    the functions the test answers (``cs231n.instructor.answers``), for the child.
    """
    rng = np.random.default_rng(test_seed)
    with _REFERENCE_LOCK:  # reference code may use numpy's global random state
        inputs, code = test.make(rng)
        with answers.recording(test.answer) as table:
            expected = run_probe(code, inputs)
    if answers.table_size(table) > ANSWER_TABLE_BYTES:
        raise ValueError(f"its answer table holds over {ANSWER_TABLE_BYTES} bytes")
    if test.keys:  # a part: only its outputs ("d*": every name starting with d)
        expected = {k: v for k, v in expected.items() if _is_part_key(k, test.keys)}
        if not expected:
            raise KeyError(f"the probe returns none of {test.keys}")
    if test.check is not None and not test.check(inputs, expected, expected)[0]:
        raise AssertionError("the reference solution fails the check")
    return inputs, code, expected, table


def score(test, inputs, expected, got):
    """(points, message) for the student's outputs ``got`` (read back, untrusted)."""
    if test.check is None:
        try:
            ok, why = compare(expected, got, test.tol, test.exact)
        except Exception as exc:  # noqa: BLE001 - whatever came back, it earns nothing
            ok, why = False, f"your code's results could not be compared ({type(exc).__name__})"
    else:
        try:
            ok, why = test.check(inputs, expected, got)
        except Exception:  # noqa: BLE001 - malformed outputs earn nothing
            ok, why = False, "your code's results have the wrong form (check their shapes)"
    if ok:
        return float(test.points), ""
    msg = f"{why} on inputs {_describe_inputs(inputs)}."
    if test.hint:
        msg += f" Hint: {test.hint}"
    return 0.0, msg


@dataclass
class Grader:
    """Grades submissions of one assignment with its grading tests."""

    assignment: str
    tests_dir: Path
    root: Path  # the source tree (reference solution)
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    require_sandbox: bool = True
    only: tuple = ()  # grade only the tests whose names start with one of these
    budget_seconds: float = 300.0  # wall time for all the tests of one submission

    def __post_init__(self):
        self.assignment, _ = parse_assignment(self.assignment)
        self.tests = load_tests(self.assignment, self.tests_dir, self.root)
        student_facing_labels(self.root, self.tests)
        if self.only:
            self.tests = [t for t in self.tests if t.name.startswith(tuple(self.only))]
            if not self.tests:
                raise ValueError(f"no grading test is named like {', '.join(self.only)}.")
        if self.require_sandbox and not sandbox.bwrap_works():
            raise RuntimeError(
                "bubblewrap (bwrap) is not available or cannot create namespaces here, so "
                "student code could read the solutions. Install it (apt-get install bubblewrap) "
                "or pass --unsafe-no-sandbox to grade with resource limits only."
            )
        self._tmp = Path(tempfile.mkdtemp(prefix="cs231n-grade-"))
        # The sandbox's private uid must reach the job folders through this one:
        # searchable, not listable; what is private in them is 0600.
        self._tmp.chmod(0o711)
        self.release = self._tmp / "release"
        build_release(self.root, self.assignment, self.release)
        self.runner = Path(__file__).with_name("_child.py").read_text()
        self._manual = None  # the release's questions graded by hand, read once

    def close(self):
        try:
            remove_tree(self._tmp)
        except OSError:
            pass

    def _run_test(self, test, package_dir, test_seed, deadline=float("inf")):
        """Score one test with inputs drawn from ``test_seed``: (score, message).

        ``deadline``: time.monotonic() to finish by (the submission's budget).
        """
        left = deadline - time.monotonic()
        if left < 1:
            return 0.0, (
                f"not graded: this submission used up its time budget "
                f"({self.budget_seconds:g} s for all its tests)"
            )
        try:
            inputs, code, expected, table = reference_run(test, test_seed)
        except Exception as exc:  # noqa: BLE001 - a broken grading test is the grader's bug
            return (
                0.0,
                f"internal error in the grading test ({type(exc).__name__}: {exc}); tell your instructor",
            )
        job = Path(tempfile.mkdtemp(prefix="job-", dir=self._tmp))
        try:
            shutil.copytree(package_dir, job / "submission" / "cs231n")
            sandbox.share_read_only(job / "submission")
            (job / "runner.py").write_text(self.runner)
            (job / "runner.py").chmod(0o644)
            task = os.open(job / "task.pkl", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(task, "wb") as f:
                pickle.dump({"code": code, "inputs": inputs, "answers": table}, f)
            limits = copy.copy(self.limits)
            limits.wall_seconds = min(limits.wall_seconds, test.wall_seconds, left)
            outcome = sandbox.run_limited(
                ["runner.py", "{result}", "{status}"],
                job,
                limits,
                binds=[(job / "runner.py", "runner.py"), (job / "submission", "submission")],
                stdin_path=job / "task.pkl",
                outputs={"result": job / "result.npz", "status": job / "status.json"},
                force_plain=not self.require_sandbox and not sandbox.bwrap_works(),
            )
            unreadable = ""
            try:
                status = readback.parse_json(readback.read_capped(job / "status.json", 2**16))
            except readback.ReadBackError as exc:
                status, unreadable = {}, str(exc)
            if outcome.timed_out or outcome.returncode != 0 or not isinstance(status, dict):
                return 0.0, f"your code did not finish: {outcome.reason}"
            if unreadable:  # the status was overwritten: say so, not "it stopped"
                return 0.0, f"your code's status could not be read back: {unreadable}"
            if not status.get("ok"):
                err = str(status.get("error") or "it stopped without returning results")[:2000]
                return 0.0, f"calling your code failed: {err}"
            try:
                cap = self.limits.file_bytes
                got = readback.load_npz(readback.read_capped(job / "result.npz", cap), cap)
            except readback.ReadBackError as exc:
                return 0.0, f"your code's results could not be read back: {exc}"
        finally:
            try:
                remove_tree(job)
            except OSError:
                pass  # the folder goes with the grader's own at close()
        return score(test, inputs, expected, got)

    def _manual_questions(self, notebooks):
        """The questions graded by hand (from the release), each marked answered or not.

        ``notebooks``: the folder of the student's notebooks (untrusted), or None when
        the submission could not be read. Entries: {id, notebook, kind, title, points,
        answered}; "answered" is None where the student's notebook could not be read.
        """
        from cs231n.submission.questions import scan_notebook

        if self._manual is None:
            self._manual = []
            for path in sorted((self.release / self.assignment).glob("*.ipynb")):
                nb = nbformat.read(path, as_version=4)
                self._manual += [q.manifest() for q in scan_notebook(nb, path.name)[0]]
        answered = {}
        for name in sorted({q["notebook"] for q in self._manual}):
            path = None if notebooks is None else notebooks / name
            try:
                if path is None or not path.is_file() or path.is_symlink():
                    continue
                nb = nbformat.reads(readback.read_capped(path, 64 * 2**20).decode(), 4)
                for q in scan_notebook(nb, name)[0]:
                    answered[q.id] = not q.empty
            except Exception:  # noqa: BLE001 - an unreadable notebook: not known
                answered.update({q["id"]: None for q in self._manual if q["notebook"] == name})
        return [{**q, "answered": answered.get(q["id"], False)} for q in self._manual]

    def grade(self, submission, jobs=1, seed=None, test_seeds=None):
        """Grade one submission (zip or folder); return a Gradescope results dict.

        Every test draws fresh inputs from its own seed, derived from the submission's
        ``seed`` (random unless given) and the test's name, and recorded in the results
        (``extra_data.seed`` of the submission and of each test) and the feedback.
        ``test_seeds`` ({test name: seed}, from a results.json) replays tests exactly.
        """
        start = time.perf_counter()
        deadline = time.monotonic() + self.budget_seconds
        if seed is None:
            seed = secrets.randbits(63)  # fresh inputs every run, recorded
        seeds = {t.name: seed_of_test(seed, t.name) for t in self.tests}
        seeds.update({k: int(v) for k, v in (test_seeds or {}).items() if k in seeds})
        work = Path(tempfile.mkdtemp(prefix="sub-", dir=self._tmp))
        notes, tests_out = [], []
        manual = self._manual_questions(None)
        try:
            try:
                pkg = work / "package"
                shutil.copytree(self.release, pkg)
                # Student files replace the release's; untouched files keep the release's stubs.
                shutil.rmtree(pkg / self.assignment, ignore_errors=True)
                student = work / "student"
                student.mkdir()
                notes += unpack_submission(submission, student, self.assignment)
                notes += overlay_package(student / "cs231n", pkg / "cs231n")
            except Exception as exc:  # noqa: BLE001 - one submission can cost only itself
                reason = exc if isinstance(exc, SubmissionError) else f"{type(exc).__name__}: {exc}"
                notes.append(f"This submission could not be graded: {reason}")
                results = [(0.0, "not graded: the submission could not be read")] * len(self.tests)
            else:
                with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                    futures = [
                        pool.submit(self._run_test, t, pkg / "cs231n", seeds[t.name], deadline)
                        for t in self.tests
                    ]
                    results = [_result_or_reason(f) for f in futures]
                manual = self._manual_questions(student / self.assignment)
            for t, (score, msg) in zip(self.tests, results):
                tests_out.append(
                    {
                        "name": f"{t.label} ({t.name})" if t.label != t.name else t.name,
                        "score": score,
                        "max_score": float(t.points),
                        "output": "passed" if score == t.points else msg,
                        "visibility": "visible",
                        "extra_data": {"id": t.name, "seed": seeds[t.name]},
                    }
                )
        finally:
            try:
                remove_tree(work)
            except OSError as exc:
                notes.append(f"(Its files could not all be removed: {exc.strerror}.)")
        total = sum(t["score"] for t in tests_out)
        return {
            "score": total,
            "max_score": float(sum(t.points for t in self.tests)),
            "execution_time": round(time.perf_counter() - start, 2),
            "output": "\n".join(notes),
            "stdout_visibility": "visible",
            "extra_data": {"seed": seed, "manual": manual},
            "tests": tests_out,
        }


def seed_of_test(seed, name):
    """The seed of one test's inputs: from the submission's seed and the test's name."""
    state = np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]).generate_state(2)
    return int(state[0]) << 31 ^ int(state[1])


def replay_seeds(results_path):
    """(submission seed, {test name: seed}) recorded in a results.json, for --replay."""
    try:
        result = json.loads(Path(results_path).read_text(encoding="utf-8"))
        seed = int(result["extra_data"]["seed"])
        tests = {
            t["extra_data"].get("id", t["name"]): int(t["extra_data"]["seed"])
            for t in result["tests"]
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{results_path} is not a results.json written by cs231n grade with seeds "
            f"({type(exc).__name__}: {exc})."
        ) from None
    return seed, tests


def _result_or_reason(future):
    """A test's (score, message); a failure of the grader's own becomes the message."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - one test can cost only itself
        return 0.0, f"could not be graded: {type(exc).__name__}: {exc}"


def not_graded(grader, reason):
    """The results of a submission that could not be graded at all, saying why."""
    return {
        "score": 0.0,
        "max_score": float(sum(t.points for t in grader.tests)),
        "execution_time": 0.0,
        "output": f"This submission could not be graded: {reason}",
        "stdout_visibility": "visible",
        "tests": [
            {
                "name": t.name,
                "score": 0.0,
                "max_score": float(t.points),
                "output": f"could not be graded: {reason}",
                "visibility": "visible",
                "extra_data": {"id": t.name},
            }
            for t in grader.tests
        ],
    }


def feedback_markdown(name, result):
    lines = [
        f"# Feedback for {name}",
        "",
        f"Score: **{result['score']:g} / {result['max_score']:g}**",
        "",
    ]
    seed = result.get("extra_data", {}).get("seed")
    if seed is not None:
        lines += [
            f"Inputs drawn from seed {seed} (each test's own seed is in brackets); "
            "`cs231n grade --replay results.json` reproduces this grade.",
            "",
        ]
    if result.get("output"):
        lines += [result["output"], ""]
    manual = result.get("extra_data", {}).get("manual") or []
    for t in result["tests"]:
        mark = "PASS" if t["score"] == t["max_score"] else "FAIL"
        seed = t.get("extra_data", {}).get("seed")
        lines.append(
            f"- {mark} `{t['name']}` ({t['score']:g}/{t['max_score']:g})"
            + (f" [seed {seed}]" if seed is not None else "")
            + ("" if mark == "PASS" else f": {t['output']}")
        )
    if manual:
        lines += [
            "",
            f"## To be graded by hand ({len(manual)} questions, not in the score above)",
            "",
        ]
        for q in manual:
            state = {True: "answered", False: "no answer found", None: "notebook unreadable"}
            points = f", {q['points']:g} points" if q.get("points") is not None else ""
            lines.append(
                f"- {q['title']} ({q['notebook']}, {q['kind']}{points}): "
                f"{state.get(q.get('answered'), 'unknown')} `{q['id']}`"
            )
    return "\n".join(lines) + "\n"


def _submission_name(path):
    p = Path(path)
    return p.stem if p.suffix == ".zip" else p.name


# Names the batch itself writes in --out (the gradebook and its temporary file).
RESERVED_NAMES = {"gradebook.csv", "gradebook.csv.part"}


def output_names(submissions):
    """A folder name in --out for each submission: from its file name, made safe.

    Only letters, digits, ``.``, ``_`` and ``-``; no leading dot (so never ``.`` or
    ``..``); never a name the batch writes itself; unique (``-2``, ``-3``... appended).
    """
    names, used = [], set(RESERVED_NAMES)
    for s in submissions:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", _submission_name(s)).lstrip(".")[:100]
        base = base or "submission"
        name, k = base, 2
        while name.lower() in used:
            name, k = f"{base}-{k}", k + 1
        used.add(name.lower())
        names.append(name)
    return names


def grade_batch(grader, submissions, out_dir, jobs=2, seed=None, test_seeds=None):
    """Grade many submissions; write results, feedback and the gradebook. Returns rows.

    ``seed`` / ``test_seeds``: as in ``Grader.grade`` (replaying a recorded grade).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = output_names(submissions)
    # Submissions run in parallel; with fewer submissions than jobs, their tests do.
    per_submission = max(1, jobs // max(1, len(submissions)))

    def grade_one(submission):
        try:
            return grader.grade(submission, jobs=per_submission, seed=seed, test_seeds=test_seeds)
        except Exception as exc:  # noqa: BLE001 - one submission can cost only itself
            return not_graded(grader, f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(grade_one, submissions))
    rows = []
    for name, result in zip(names, results):
        d = out_dir / name
        assert d.parent == out_dir and name not in (".", ".."), name  # output_names' promise
        try:
            d.mkdir(exist_ok=True)
            _atomic_write(d / "results.json", json.dumps(result, indent=2))
            _atomic_write(d / "feedback.md", feedback_markdown(name, result))
        except OSError as exc:
            print(f"cs231n grade: could not write the results of {name}: {exc}", file=sys.stderr)
        rows.append((name, result))
    buf = io.StringIO()
    writer = csv.writer(buf)
    test_names = [t.name for t in grader.tests]
    # The last column: the answered questions still to be graded by hand.
    writer.writerow(["submission", "score", "max_score", *test_names, "to_grade_by_hand"])
    for name, result in rows:
        manual = result.get("extra_data", {}).get("manual") or []
        writer.writerow(
            [
                name,
                f"{result['score']:g}",
                f"{result['max_score']:g}",
                *[f"{t['score']:g}" for t in result["tests"]],
                sum(1 for q in manual if q.get("answered")),
            ]
        )
    _atomic_write(out_dir / "gradebook.csv", buf.getvalue())
    return rows


def _atomic_write(path, text):
    tmp = Path(f"{path}.part")
    tmp.write_text(text, encoding="utf-8", errors="replace")  # a stray surrogate: "?"
    tmp.replace(path)


def expand_submissions(paths):
    """Zips and submission folders named, or found one level inside the folders named
    (there, never a link: an extracted submission may link to the instructor's files)."""
    found = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir() and (p / "cs231n").is_dir():
            found.append(p)
        elif p.is_dir():
            for q in sorted(
                q for q in p.iterdir() if q.suffix == ".zip" or (q / "cs231n").is_dir()
            ):
                if q.is_symlink():
                    print(
                        f"cs231n grade: skipped {q}, a link (name it to grade it)", file=sys.stderr
                    )
                else:
                    found.append(q)
        else:
            raise FileNotFoundError(f"no such submission: {p}")
    return found


def _cmd(args):
    from cs231n.instructor.notebooks import find_repo_root

    root = find_repo_root()
    tests_dir = Path(args.tests) if args.tests else root / "tests" / "grading"
    try:
        submissions = expand_submissions(args.submissions)
        if not submissions:
            print("cs231n grade: no submissions found.", file=sys.stderr)
            return 2
        grader = Grader(
            args.assignment,
            tests_dir,
            root,
            require_sandbox=not args.unsafe_no_sandbox,
            only=tuple(args.only or ()),
            budget_seconds=args.budget,
        )
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"cs231n grade: {exc}", file=sys.stderr)
        return 1
    seed, test_seeds = args.seed, None
    if args.replay:
        try:
            seed, test_seeds = replay_seeds(args.replay)
        except ValueError as exc:
            grader.close()
            print(f"cs231n grade: {exc}", file=sys.stderr)
            return 1
    try:
        start = time.perf_counter()
        rows = grade_batch(
            grader, submissions, args.out, jobs=args.jobs, seed=seed, test_seeds=test_seeds
        )
    finally:
        grader.close()
    for name, result in rows:
        print(f"{name:40s} {result['score']:6g} / {result['max_score']:g}")
    print(
        f"Graded {len(rows)} submissions in {time.perf_counter() - start:.1f} s; "
        f"results in {Path(args.out).resolve()}"
    )
    return 0


def register(sub):
    p = sub.add_parser("grade", help="grade submissions with the hidden tests", description=__doc__)
    p.add_argument("submissions", nargs="+", help="submission zips or folders, or folders of them")
    p.add_argument(
        "-a", "--assignment", required=True, help="assignment1, assignment2 or assignment3"
    )
    p.add_argument("--out", default="grades", help="folder for results (default: grades)")
    p.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--tests", help="folder of grading tests (default: tests/grading)")
    p.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds of wall time for all the tests of one submission (default 300)",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="PREFIX",
        help="grade only tests whose names start with PREFIX (repeatable)",
    )
    p.add_argument("--seed", type=int, help="draw every test's inputs from this seed")
    p.add_argument(
        "--replay",
        metavar="RESULTS_JSON",
        help="reuse the seeds recorded in a results.json: reproduces that grade exactly",
    )
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="grade without bubblewrap (resource limits only; see README)",
    )
    p.set_defaults(func=_cmd)
