"""Sphinx configuration of the course website (`make site`; tools/site.py stages the pages).

Sphinx with myst-nb (notebooks and Markdown) and the book theme. Notebooks are shown with the
outputs of the committed lecture run: nothing is executed. MathJax is bundled
(sphinx-mathjax-offline), so the site renders its math without a network.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
with open(ROOT / "pyproject.toml", "rb") as handle:
    REPOSITORY = tomllib.load(handle)["project"]["urls"]["Repository"]

project = "Attention and Vision Transformers"
author = "the course authors"
copyright = "the course authors, MIT licence"
html_title = "Attention and Vision Transformers"

extensions = [
    "myst_nb",  # .ipynb and .md pages (MyST Markdown)
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax: math renders offline
]
root_doc = "index"  # the README (tools/site.py adds the navigation to it)
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "jupyter_execute"]

# Notebooks: never executed here; their stored outputs are the lecture run's.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no widget JavaScript from a CDN: tools/site.py turns widgets into stills
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "misc.highlighting_failure"]

html_theme = "sphinx_book_theme"
html_context = {"default_mode": "auto"}  # light or dark as the reader's system says (unset, the theme logs an error)
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": "main",
    "path_to_docs": "",  # the staged pages keep the repository's layout (notebooks/NN_*.ipynb)
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
    "home_page_in_toc": True,
}
