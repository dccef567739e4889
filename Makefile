# The one entry point for people and CI: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
INSTALL_LOG := $(VENV)/install.log
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test lint format translations clean

# The installer's hundred-odd lines go to $(INSTALL_LOG), shown only when the install fails.
$(STAMP): setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the portal into $(VENV) (log: $(INSTALL_LOG)) ..."
	@{ $(BIN)/python -m pip install --upgrade pip && $(BIN)/python -m pip install -e '.[test]'; } >$(INSTALL_LOG) 2>&1 \
	  || { cat $(INSTALL_LOG); echo "make: the install failed; its log is $(INSTALL_LOG)" >&2; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# Migrate and seed quietly (their output is shown only on failure), then the demo logins and the
# URL as the last lines before the server's own. `make run PORT=5001 HOST=0.0.0.0` picks another.
run: install
	@$(BIN)/flask db upgrade >$(VENV)/run.log 2>&1 || { cat $(VENV)/run.log; exit 1; }
	@echo
	@$(BIN)/flask demo seed 2>>$(VENV)/run.log || { cat $(VENV)/run.log; exit 1; }
	@echo
	@echo "Open http://$(HOST):$(PORT)/ and sign in with one of the logins above (Ctrl+C stops the server)."
	@echo
	@$(BIN)/flask run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts

# Extract UI strings, merge them into the catalogs, compile. Translate new entries in the .po before compiling.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --project=collections-portal --version=0.1.0 -o portal/translations/messages.pot .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations
	test ! -f portal/translations/incoming/fill.py || $(BIN)/python portal/translations/incoming/fill.py
	$(BIN)/pybabel compile -d portal/translations --statistics
