"""ipywidgets + matplotlib visualisations used by the lectures (import the submodule you need).

Each widget has an update function that can be called without a browser (the tests do), and a
static figure for readers without a kernel.
"""
