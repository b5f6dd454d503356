"""The course as authored: lecture sources, the syllabus, and the tools that build and grade them.

    python -m course build [--solutions DIR]   # lectures/*.py -> notebooks/*.ipynb (student versions)
    python -m course check                     # fail when notebooks/ is out of date
    python -m course grade [NOTEBOOK ...]      # run nbval on copies and print the points per exercise

See course/README.md for how a lecture is written and how to add one.
"""
