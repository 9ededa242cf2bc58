"""cs231n: the numpy package behind the course's three assignments.

What a student reads and edits:
    layers.py, layer_utils.py, fast_layers.py, rnn_layers.py  -- layers (forward/backward)
    classifiers/                                             -- models built from layers
    optim.py, solver.py, captioning_solver.py                -- training
    gradient_check.py                                        -- numerical gradients
    data_utils.py, coco_utils.py, features.py, vis_utils.py  -- data and plots

Tools a student uses, never edits:
    data/        -- the embedded data sets' generators, downloads, ``cs231n data``
    submission/  -- ``cs231n collect``: the submission zip and the answers' export
    cli.py       -- the ``cs231n`` command line

The course staff's tooling (releases, grading, the sandbox, the notebook runner) lives in
``cs231n/instructor/``: nothing above imports it, and no student release holds it.

Importing the package tunes glibc's ``malloc`` to keep freed memory for the next
minibatch (twice as fast a convnet step; see ``cs231n/_memory.py``, and
``CS231N_MALLOC_TUNING=0`` to opt out).
"""

from cs231n._memory import tune_malloc

__version__ = "0.1.0"

tune_malloc()
