# Every target sets up what it needs on a fresh clone: a local virtual environment with
# the CPU build of torch (installed first, on its own) and the package in editable mode.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo_out
# The Gradio app and the modules beside it (linted with the package).
APP_FILES := app.py app_inputs.py app_events.py app_media.py app_history.py app_server.py

.PHONY: install test test-fast lint demo clean

install: $(STAMP)

$(STAMP): setup.py requirements.txt Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,app]'  # app: gradio, Pillow; dev: playwright (chromium: .ci/run)
	touch $(STAMP)

test: install
	$(PY) -m pytest -q tests

test-fast: install
	$(PY) -m pytest -q -m "not slow" tests

lint: install
	$(VENV)/bin/ruff check audiocraft tests scripts benchmarks $(APP_FILES)
	$(VENV)/bin/mypy audiocraft $(APP_FILES)

demo: install
	$(PY) -m audiocraft.data.synth $(DEMO_OUT)/synth --num 3 --duration 8 --seed 0
	$(VENV)/bin/audiocraft generate "A relaxed lofi track in C major at 90 BPM, with electric piano, pad chords, bass and drums." \
		--model toy --duration 40 --threads 1 --seed 0 --out $(DEMO_OUT)/generated.wav

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
