"""What JupyterLab runs when a learner saves a notebook (installed by the Makefile as the server's
``ContentsManager.pre_save_hook``, see course/jupyter_server_config.json).

A saved widget output is only a reference to a model that lives in the kernel; reopened on a new kernel,
JupyterLab 4 shows "Error displaying widget: model not found" there. So the saved file keeps, in place of
each widget view, one line of plain text saying how to get the widget back; the static figure that every
lecture puts next to its widget stays as it is. The lab settings (course/jupyterlab-overrides.json) also
keep widget state out of the file.
"""
from __future__ import annotations

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "widgets"
RUN_AGAIN = "interactive widget: run the cell to show it"


def strip_widget_views(model: dict, **_context) -> None:
    """Replace every widget view in a notebook model about to be saved by a plain-text note, and drop
    saved widget state (``metadata.widgets``). Other files and outputs are left alone."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    notebook = model["content"]
    notebook.get("metadata", {}).pop(WIDGET_STATE, None)
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/plain": RUN_AGAIN}
