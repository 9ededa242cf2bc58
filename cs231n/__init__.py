"""cs231n: the numpy package behind the course's three assignments.

What a student reads and edits:
    layers.py, layer_utils.py, fast_layers.py, rnn_layers.py  -- layers (forward/backward)
    classifiers/                                             -- models built from layers
    optim.py, solver.py, captioning_solver.py                -- training
    gradient_check.py                                        -- numerical gradients
    data_utils.py, coco_utils.py, features.py, vis_utils.py  -- data and plots

The course tooling (command line, data download, releases, grading) lives in
``cs231n.course`` and is not part of any assignment.

Importing the package tunes glibc's ``malloc`` to keep freed memory for the next
minibatch (twice as fast a convnet step; see ``cs231n/_memory.py``, and
``CS231N_MALLOC_TUNING=0`` to opt out).
"""

from cs231n._memory import tune_malloc

__version__ = "0.1.0"

tune_malloc()
