"""The notebook builder: jupytext reads the percent sources; what is ours fills in around it."""

from __future__ import annotations

import json
import sys
import types

import pytest

from tools import nbbuild

SOURCE = '''# %% [markdown]
# # A title
#
# {{COLAB_BADGE}}

# %%
{{COLAB_SETUP}}

x = 1  # (B, T) a comment stays a comment
# %time is a comment here, not a magic

# %% tags=["solution"]
answer = 42

# %% [markdown]
# $$a = b$$ and `{{REPO_URL}}`
'''


def test_cells_tags_and_placeholders(monkeypatch):
    monkeypatch.setattr(nbbuild, "_lecture_metadata", lambda: None)  # the builder's own part only
    cells = nbbuild.parse(SOURCE, "99_demo.ipynb")
    assert [c.cell_type for c in cells] == ["markdown", "code", "code", "markdown"]
    assert cells[0].source.startswith("# A title\n\n[![Open In Colab]") and "blob/main/notebooks/99_demo.ipynb" in cells[0].source
    assert cells[1].source.startswith("# Setup (the same cell opens every notebook).")
    assert f'"{nbbuild.colab_install_spec()}"' in cells[1].source
    assert cells[1].source.endswith("x = 1  # (B, T) a comment stays a comment\n# %time is a comment here, not a magic")
    assert cells[2].source == "answer = 42" and cells[2].metadata == {"tags": ["solution"]}
    assert cells[3].source == f"$$a = b$$ and `{nbbuild.repo_url()}`"
    for cell in cells:  # jupytext's own layout metadata stays out of the notebook; no ids until build_one
        assert "lines_to_next_cell" not in cell.metadata and "id" not in cell
        assert "{{" not in cell.source


def test_lecture_metadata_hook_is_applied(monkeypatch):
    """The exercises' ``lecture_metadata(cell)``, where a tools module defines it, shapes every cell."""
    seen = []

    def lecture_metadata(cell):
        seen.append(cell.cell_type)
        if "solution" in cell.metadata.get("tags", []):
            return {"jupyter": {"source_hidden": True}}
        return None

    module = types.ModuleType("tools.exercises")
    module.lecture_metadata = lecture_metadata
    monkeypatch.setitem(sys.modules, "tools.exercises", module)
    cells = nbbuild.parse(SOURCE, "99_demo.ipynb")
    assert seen == ["markdown", "code", "code", "markdown"]
    assert cells[2].metadata == {"tags": ["solution"], "jupyter": {"source_hidden": True}}
    assert cells[1].metadata == {}


def test_build_one_writes_a_notebook(tmp_path, monkeypatch):
    src = tmp_path / "99_demo.py"
    src.write_text(SOURCE)
    monkeypatch.setattr(nbbuild, "OUT", tmp_path)
    out = nbbuild.build_one(src)
    nb = json.loads(out.read_text())
    assert [c["id"] for c in nb["cells"]] == ["c000", "c001", "c002", "c003"]
    assert nb["metadata"]["kernelspec"]["name"] == nbbuild.KERNEL and "jupytext" not in nb["metadata"]
    assert nbbuild.build_one(src) is None  # up to date: left alone (its outputs kept)


def test_an_up_to_date_notebook_gets_new_cell_metadata_and_keeps_its_outputs(tmp_path, monkeypatch):
    src = tmp_path / "99_demo.py"
    src.write_text(SOURCE)
    monkeypatch.setattr(nbbuild, "OUT", tmp_path)
    monkeypatch.setattr(nbbuild, "_lecture_metadata", lambda: None)
    out = nbbuild.build_one(src)
    nb = json.loads(out.read_text())
    nb["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
    out.write_text(json.dumps(nb))
    monkeypatch.setattr(nbbuild, "_lecture_metadata", lambda: lambda cell: {"jupyter": {"source_hidden": True}}
                        if "solution" in cell.metadata.get("tags", []) else None)
    assert nbbuild.build_one(src) is None
    nb = json.loads(out.read_text())
    assert nb["cells"][2]["metadata"] == {"tags": ["solution"], "jupyter": {"source_hidden": True}}
    assert "".join(nb["cells"][2]["outputs"][0]["text"]) == "42\n"
    written = out.read_bytes()
    assert nbbuild.build_one(src) is None and out.read_bytes() == written  # nothing new: not rewritten


def _bar_notebook(visibility, value):
    """A notebook with one tqdm-like progress bar output and its saved widget state."""
    import nbformat

    def model(name, **state):
        return {"model_name": name, "state": state}

    state = {"box": model("HBoxModel", layout="IPY_MODEL_lay", children=["IPY_MODEL_a", "IPY_MODEL_b", "IPY_MODEL_c"]),
             "lay": model("LayoutModel", visibility=visibility),
             "a": model("HTMLModel", value="epoch\u20072/9:\u200757%"), "b": model("FloatProgressModel", value=value),
             "c": model("HTMLModel", value="\u20074/7\u2007[00:01&lt;00:01]")}
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {nbbuild.WIDGET_STATE: {"state": state}}
    cell = nbformat.v4.new_code_cell("fit(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        nbbuild.WIDGET_VIEW: {"model_id": "box"}, "text/plain": "epoch 2/9:   0%|          | 0/7"}),
        nbformat.v4.new_output("stream", text="epoch 2: loss 1.0\n")]
    nb.cells = [cell]
    return nb


def test_finished_progress_bars_leave_no_stale_text():
    nb = _bar_notebook("hidden", 7)  # a leave=False bar that finished: hidden live, so dropped
    assert nbbuild.drop_hidden_widgets(nb) == 1 and [o.output_type for o in nb.cells[0].outputs] == ["stream"]
    nb = _bar_notebook(None, 4)  # cut short by a budget: it stays, and its text is where it ended
    assert nbbuild.drop_hidden_widgets(nb) == 0
    assert nb.cells[0].outputs[0]["data"]["text/plain"] == "epoch 2/9: 57%  4/7 [00:01<00:01]"


def test_build_with_names_builds_only_those(tmp_path, monkeypatch, capsys):
    for name in ("98_one", "99_two"):
        (tmp_path / f"{name}.py").write_text(SOURCE)
    monkeypatch.setattr(nbbuild, "SRC", tmp_path)
    built = []
    monkeypatch.setattr(nbbuild, "build_one", lambda src: built.append(src.stem))
    nbbuild.main(["build", "notebooks/99_two.ipynb"])
    assert built == ["99_two"]
    nbbuild.main(["build"])
    assert built == ["99_two", "98_one", "99_two"]  # no names: every source
    with pytest.raises(SystemExit):
        nbbuild.main(["build", "97_missing"])
    assert "no source notebooks/src/<name>.py for ['97_missing']" in capsys.readouterr().err
