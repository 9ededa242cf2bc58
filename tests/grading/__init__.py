"""Hidden grading tests: one module per assignment (``a1.py``, ...), never released.

Each module defines ``TESTS = Registry()`` and registers, with ``@TESTS(name, points)``,
functions ``make(rng) -> (inputs, probe)``: fresh random inputs and the code that calls
the student's function and stores what it returns in a dict ``out``. The grader runs the
probe against the reference solution and, sandboxed, against the submission, and compares.
"""
