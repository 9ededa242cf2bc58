# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled im2col / col2im kernels for the fast convolution and pooling layers.

Placeholder: the kernels are added with assignment 2's fast layers.
"""

def extension_ok():
    """True: the compiled extension imports."""
    return True
