# The two set-up commands of the README. Both create .venv when it is missing and install the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE_YEAR := 2025

.PHONY: report test templates samples history report-template readme-pages clean help doctor status

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/crimetrends: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

report: $(BIN)/crimetrends ## The annual run on the shipped sample inputs (latest sample year)
	$(BIN)/crimetrends run --year $(SAMPLE_YEAR) --inputs inputs --outputs outputs

test: $(BIN)/crimetrends ## Run the test suite
	$(BIN)/python -m pytest -q

doctor: $(BIN)/crimetrends ## Check this machine: Python, packages, LibreOffice, fonts, folders, settings
	$(BIN)/crimetrends doctor

status: $(BIN)/crimetrends ## The submission tracker of the sample year (outputs/<year>/status.csv)
	$(BIN)/crimetrends status --year $(SAMPLE_YEAR) --inputs inputs --outputs outputs

templates: $(BIN)/crimetrends ## Submission workbooks for next year into outputs/templates/
	$(BIN)/crimetrends template --year $$(( $(SAMPLE_YEAR) + 1 ))

samples: $(BIN)/crimetrends ## Re-create the demonstration inputs (deterministic)
	$(BIN)/python scripts/make_sample_inputs.py --out inputs

RAW ?= ../shared/realdata/raw
history: $(BIN)/crimetrends ## Re-import inputs/history/ from the published UNODC and Eurostat files (RAW=folder)
	$(BIN)/crimetrends import $(RAW)/data_glotip.xlsx --inputs inputs
	$(BIN)/crimetrends import $(RAW)/estat_crim_off_cat.tsv --inputs inputs

report-template: $(BIN)/crimetrends ## Re-build templates/annual_assessment.docx from its script
	$(BIN)/python templates/build_template.py

readme-pages: report ## Re-render the two report pages the README shows (docs/*.png) from the sample PDF
	pdftoppm -r 60 -png -f 3 -l 3 -singlefile outputs/$(SAMPLE_YEAR)/BSEC_Annual_Assessment_$(SAMPLE_YEAR).pdf docs/report_page_key_findings
	pdftoppm -r 60 -png -f 9 -l 9 -singlefile outputs/$(SAMPLE_YEAR)/BSEC_Annual_Assessment_$(SAMPLE_YEAR).pdf docs/report_page_chapter

clean: ## Remove outputs (keeps the placeholder)
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

.PHONY: bench
BENCH_ARGS ?=
# Bytecode first, as pip compiles it when it installs a package: Python does not write it itself where
# PYTHONDONTWRITEBYTECODE is set, and would then compile every module of the package at every run.
bench: $(BIN)/crimetrends ## Time the sample run, validate of one workbook, and 100/300/1,000 workbooks against openpyxl (BENCH_ARGS=--quick)
	$(BIN)/python -m compileall -q pipeline
	$(BIN)/python bench/bench.py $(BENCH_ARGS)
