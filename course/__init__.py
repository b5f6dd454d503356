"""The course as authored: lecture sources, the syllabus, and the tools that build and grade them.

    python -m course build [--solutions DIR]   # lectures/*.py -> notebooks/*.ipynb (student versions)
    python -m course check                     # fail when notebooks/ is out of date
    python -m course grade [NOTEBOOK ...]      # run nbval on copies and print the points per exercise
    python -m course grade --class DIR --csv gradebook.csv --jobs 4   # a whole class, for instructors

Inside a lecture, ``course.grade_this_notebook()`` (its last cell) grades the saved notebook.
See course/README.md for how a lecture is written and how to add one.
"""
from .here import grade_this_notebook

__all__ = ["grade_this_notebook"]
