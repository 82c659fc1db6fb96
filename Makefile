# The two commands of the README: `make run` (default pipeline -> results/) and `make test`.
# Each sets up the virtual environment first (once; again when requirements.txt changes).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run study autoencoders kitchen-boards clutch segmentation latent test lint report clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES)
	$(BIN)/snakemake --profile profiles/local --report results/report.html

STUDY := --configfile config/sequential-patchcore.yaml config/sequential-patchcore-small.yaml
study: $(STAMP)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) $(STUDY)
	$(BIN)/snakemake --profile profiles/local $(STUDY) --report results/study-report.html

AUTOENCODERS := --configfile config/autoencoders.yaml config/autoencoders-small.yaml
autoencoders: $(STAMP)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) $(AUTOENCODERS)
	$(BIN)/snakemake --profile profiles/local $(AUTOENCODERS) --report results/autoencoders-report.html

KITCHEN := --configfile config/kitchen-boards.yaml config/kitchen-boards-small.yaml
kitchen-boards: $(STAMP)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) $(KITCHEN)
	$(BIN)/snakemake --profile profiles/local $(KITCHEN) --report results/kitchen-boards-report.html

CLUTCH := --configfile config/clutch.yaml config/clutch-small.yaml
clutch: $(STAMP)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) $(CLUTCH)
	$(BIN)/snakemake --profile profiles/local $(CLUTCH) --report results/clutch-report.html

SEGMENTATION := --configfile config/clutch.yaml config/clutch-small.yaml config/clutch-segmentation.yaml config/clutch-segmentation-small.yaml
segmentation: $(STAMP)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) $(SEGMENTATION)
	$(BIN)/snakemake --profile profiles/local $(SEGMENTATION) --report results/segmentation-report.html

LATENT := --configfile config/latent-space.yaml config/latent-space-small.yaml
latent: $(STAMP)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) $(LATENT)
	$(BIN)/snakemake --profile profiles/local $(LATENT) --report results/latent-report.html

test: $(STAMP)
	$(BIN)/python -m pytest -ra --durations=30

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake logs
