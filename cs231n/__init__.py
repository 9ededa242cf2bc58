"""cs231n: the numpy package behind the course's three assignments.

What a student reads and edits:
    layers.py, layer_utils.py, fast_layers.py, rnn_layers.py  -- layers (forward/backward)
    classifiers/                                             -- models built from layers
    optim.py, solver.py, captioning_solver.py                -- training
    gradient_check.py                                        -- numerical gradients
    data_utils.py, coco_utils.py, features.py, vis_utils.py  -- data and plots

The course tooling (command line, data download, releases, grading) lives in
``cs231n.course`` and is not part of any assignment.
"""

__version__ = "0.1.0"
