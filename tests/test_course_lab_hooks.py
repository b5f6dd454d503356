"""The pre-save hook JupyterLab's server runs on every save (course/lab_hooks.py), and the settings the
Makefile installs for it: a saved widget must never come back as "Error displaying widget"."""
import json
from pathlib import Path

import pytest

from course.lab_hooks import RUN_AGAIN, WIDGET_VIEW, strip_widget_views

COURSE = Path(__file__).resolve().parents[1] / "course"


def notebook_model():
    widget = {"output_type": "display_data", "metadata": {},
              "data": {"text/plain": "VBox(children=(HBox(...), Output()))",
                       WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}}}
    figure = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}
    error = {"output_type": "error", "ename": "NotImplementedError", "evalue": "x", "traceback": []}
    cells = [{"cell_type": "code", "source": "w", "outputs": [widget], "metadata": {}, "execution_count": 1},
             {"cell_type": "code", "source": "f", "outputs": [figure, error], "metadata": {}, "execution_count": 2},
             {"cell_type": "markdown", "source": "text", "metadata": {}}]
    return {"type": "notebook", "content": {"cells": cells, "metadata": {"widgets": {"state": {}}}}}


def test_widget_views_become_a_note_and_widget_state_is_dropped():
    model = notebook_model()
    strip_widget_views(model=model, path="01_x.ipynb", contents_manager=None)
    cells = model["content"]["cells"]
    assert cells[0]["outputs"] == [{"output_type": "display_data", "metadata": {}, "data": {"text/plain": RUN_AGAIN}}]
    assert cells[1] == notebook_model()["content"]["cells"][1]  # the static figure and errors stay
    assert "widgets" not in model["content"]["metadata"]


def test_other_files_are_left_alone():
    model = {"type": "file", "content": "text", "format": "text"}
    strip_widget_views(model=model, path="a.txt", contents_manager=None)
    assert model == {"type": "file", "content": "text", "format": "text"}


def test_the_server_config_names_the_hook_and_lab_does_not_save_widget_state():
    config = json.loads((COURSE / "jupyter_server_config.json").read_text())
    assert config["ContentsManager"]["pre_save_hook"] == "course.lab_hooks.strip_widget_views"
    overrides = json.loads((COURSE / "jupyterlab-overrides.json").read_text())
    assert overrides["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is False


@pytest.mark.slow
def test_a_real_jupyter_server_with_the_course_config_strips_widgets_on_save(tmp_path):
    """The hook must be loaded, not only written: a notebook saved through the contents API of a
    server started like `make lab` / the browser test comes back without its widget view."""
    import urllib.request

    from course.browser.server import LabServer

    (tmp_path / "nb").mkdir()
    widget = {"output_type": "display_data", "metadata": {},
              "data": {"text/plain": "VBox()", WIDGET_VIEW: {"model_id": "x", "version_major": 2, "version_minor": 0}}}
    notebook = {"cells": [{"cell_type": "code", "id": "a", "source": "w", "metadata": {}, "execution_count": 1,
                           "outputs": [widget]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    with LabServer(tmp_path / "nb", tmp_path / "server.log") as lab:
        request = urllib.request.Request(
            f"{lab.url}/api/contents/saved.ipynb", method="PUT",
            data=json.dumps({"type": "notebook", "format": "json", "content": notebook}).encode(),
            headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).read()
        saved = json.loads((lab.root / "saved.ipynb").read_text())
    data = saved["cells"][0]["outputs"][0]["data"]
    assert list(data) == ["text/plain"] and "".join(data["text/plain"]) == RUN_AGAIN
