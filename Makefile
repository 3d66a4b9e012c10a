# The two commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test e2e install migrate seed lint format clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when a requirements file changed.
$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --no-input

seed: migrate
	$(BIN)/python manage.py seed_demo

# The worker and beat default to production settings (site_config/celery.py): here, dev.
run: seed
	@DJANGO_SETTINGS_MODULE="$${DJANGO_SETTINGS_MODULE:-site_config.settings.dev}" \
		PATH="$(CURDIR)/$(BIN):$$PATH" PYTHONUNBUFFERED=1 $(BIN)/honcho start -f Procfile

test: install
	$(BIN)/pytest

# Browser journeys (e2e/): Debian's Chromium against a live server on PostgreSQL, with a real
# Celery worker on Redis and a test SMTP server. Screenshots of each last step: var/screenshots/.
CHROMIUM ?= /usr/bin/chromium
E2E_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/mailing
E2E_REDIS_URL ?= redis://127.0.0.1:6379/1
E2E_ARGS ?=

e2e: install
	@test -x "$(CHROMIUM)" || { echo "make e2e needs Chromium at $(CHROMIUM): apt-get install -y chromium (or make e2e CHROMIUM=/path/to/chromium)"; exit 1; }
	@mkdir -p var/screenshots
	DATABASE_URL="$${DATABASE_URL:-$(E2E_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(E2E_REDIS_URL)}" \
		E2E_CHROMIUM="$(CHROMIUM)" $(BIN)/pytest e2e $(E2E_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
