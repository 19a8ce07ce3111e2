# make lab      JupyterLab on notebooks/ (LAB_ARGS="--no-browser --port 8899" to change how)
# make test     unit tests + every notebook under nbval in smoke mode (what CI runs)
# make smoke    only the notebooks under nbval, in smoke mode
# make execute  the lecture run: rebuild notebooks from notebooks/src and execute them in place
# make student  student copies in student/: solutions replaced by stubs, outputs cleared
# Each target creates .venv first when it is missing or out of date.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAB_ARGS ?=
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root,)
NB ?= notebooks/*.ipynb
CELL_TIMEOUT ?= 900
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout $(CELL_TIMEOUT)

.PHONY: lab test smoke execute notebooks student env clean-env

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(PY) -m ipykernel install --user --name attention-vit-course --display-name "Python (attention-vit course)" >/dev/null
	touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(ROOT_ARG) $(LAB_ARGS)

test: $(STAMP)
	COURSE_SMOKE=1 $(PY) -m pytest tests $(NBVAL) $(NB)

smoke: $(STAMP)
	COURSE_SMOKE=1 $(PY) -m pytest $(NBVAL) $(NB)

notebooks: $(STAMP)
	$(PY) -m tools.nbbuild build

execute: notebooks
	COURSE_SMOKE=0 $(PY) -m tools.nbbuild execute $(NB)

student: $(STAMP)
	$(PY) -m tools.student student

clean-env:
	rm -rf $(VENV)
