"""Course tooling: the command line, data download and generation, notebook running,
solution markers, releases and grading.

This is code for instructors and for the course's machinery. Students never need to
read or edit it; what they edit lives in ``cs231n/`` beside this folder.
"""
