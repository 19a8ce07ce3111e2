# make lab      JupyterLab on notebooks/ (LAB_ARGS="--no-browser --port 8899" to change how)
# make test     unit tests + every notebook under nbval in smoke mode (what CI runs)
# make smoke    only the notebooks under nbval, in smoke mode
# make execute  the lecture run: rebuild notebooks from notebooks/src and execute them in place
# make student  student copies in notebooks/student/ (committed): solutions stubbed, no outputs;
#               never overwrites a copy a student changed (FORCE=1 does)
# make site     the course as a website in build/site/, from the committed notebooks (nothing re-run)
# make env TORCH=cpu   a classroom install: CPU-only torch from PyTorch's CPU wheel index, no CUDA
#               libraries (the choice is remembered in .venv/.torch). Default: the wheels PyPI serves.
# Each target creates .venv first when it is missing or out of date.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH ?= $(shell cat $(VENV)/.torch 2>/dev/null)
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
ifneq ($(filter-out cpu,$(TORCH)),)
$(error TORCH=$(TORCH): leave TORCH unset (PyPI's wheels) or use TORCH=cpu)
endif
STAMP := $(VENV)/.installed$(if $(TORCH),-$(TORCH),)
SITE_STAMP := $(VENV)/.installed-site
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
pin = $(shell sed -n 's/^$(1)==//p' constraints.txt)
LAB_ARGS ?=
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root,)
NB ?= notebooks/*.ipynb
CELL_TIMEOUT ?= 900
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout $(CELL_TIMEOUT)

.PHONY: lab test smoke execute notebooks student site env clean-env

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
ifeq ($(TORCH),cpu)
	$(PY) -m pip install --quiet --index-url $(TORCH_CPU_INDEX) "torch==$(call pin,torch)+cpu" "torchvision==$(call pin,torchvision)+cpu"
	$(PY) -m pip uninstall --quiet -y $$($(PY) -m pip list --format=freeze | grep -i -E '^(nvidia-|triton=)' | cut -d= -f1) 2>/dev/null || true
endif
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(PY) -m ipykernel install --user --name attention-vit-course --display-name "Python (attention-vit course)" >/dev/null
	mkdir -p $(dir $(LAB_SETTINGS)) && cp tools/jupyterlab-overrides.json $(LAB_SETTINGS)  # no news pop-up
	echo "$(TORCH)" > $(VENV)/.torch
	touch $(STAMP)

$(SITE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[site]"
	touch $(SITE_STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(ROOT_ARG) --LabApp.news_url= \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate $(LAB_ARGS)

test: $(STAMP) $(SITE_STAMP)
	COURSE_SMOKE=1 $(PY) -m pytest -rs tests $(NBVAL) $(NB)

smoke: $(STAMP)
	COURSE_SMOKE=1 $(PY) -m pytest $(NBVAL) $(NB)

notebooks: $(STAMP)
	$(PY) -m tools.nbbuild build

execute: notebooks
	COURSE_SMOKE=0 $(PY) -m tools.nbbuild execute $(NB)

student: $(STAMP)
	$(PY) -m tools.student $(if $(FORCE),--force,)

site: $(SITE_STAMP)
	$(PY) -m tools.site

clean-env:
	rm -rf $(VENV)
