# Two commands work on a fresh machine: `make demo` and `make test` (each installs what it needs).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TRACK  ?=
CONFIG ?= $(TRACK)/config.toml
ARGS   ?=
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup demo train predict eval oracle explain db test bench screenshot clean check-track

setup: $(STAMP)

# Re-installs only when the pins change. bert4keras goes in with --no-deps: it pins keras<=2.3.1.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps bert4keras==0.11.5
	touch $(STAMP)

demo: setup
	$(PY) demo.py $(ARGS)

check-track:
	@test -n "$(TRACK)" || { echo "set TRACK=<track folder>, e.g. make $(MAKECMDGOALS) TRACK=ie_relation"; exit 2; }
	@test -f "$(TRACK)/train.py" || { echo "no track '$(TRACK)' (expected $(TRACK)/train.py)"; exit 2; }

train: setup check-track
	$(PY) -m $(TRACK).train --config $(CONFIG) $(ARGS)

predict: setup check-track
	$(PY) -m $(TRACK).predict --config $(CONFIG) $(ARGS)

oracle: setup check-track
	$(PY) -m $(TRACK).oracle --config $(CONFIG) $(ARGS)

eval: setup check-track
	@test -n "$(GOLD)" -a -n "$(PRED)" || { echo "usage: make eval TRACK=... GOLD=gold_file PRED=prediction_file [REPORT=page.html]"; exit 2; }
	$(PY) -m $(TRACK).evaluate $(GOLD) $(PRED) $(if $(REPORT),--report $(REPORT)) $(ARGS)

# Integrated gradients of a trained run on the first N records of INPUT: one HTML page (default <run>/explain.html)
explain: setup check-track
	@test -n "$(INPUT)" || { echo "usage: make explain TRACK=... INPUT=file [RUN=run folder] [N=5]"; exit 2; }
	$(PY) -m $(TRACK).explain --config $(CONFIG) --input $(INPUT) $(if $(RUN),--run $(RUN)) $(if $(N),--n $(N)) $(ARGS)

# SQLite copies of the DuSQL databases of data.dir (execution accuracy; also built on first use)
db: setup
	$(PY) -m semantic_parsing.db $(if $(TRACK),--config $(CONFIG)) $(ARGS)

test: setup
	$(PY) -m pytest -q -n auto --dist loadfile $(ARGS)

# Every track's speed as ratios (bench/run.py): ARGS=--quick (< 5 min), ARGS="--tracks mrc,encoder", ...
# The peer (HF transformers on PyTorch) needs a Python with requirements-bench.txt: PEER_PYTHON=path/to/python
bench: setup
	$(PY) bench/run.py $(if $(PEER_PYTHON),--peer-python $(PEER_PYTHON)) $(ARGS)

# PNG of a page (explanations, reports) by headless Chromium; installs chromium and a CJK font if missing.
screenshot:
	@test -n "$(PAGE)" || { echo "usage: make screenshot PAGE=page.html [OUT=page.png]"; exit 2; }
	sh tools/screenshot.sh "$(PAGE)" "$(or $(OUT),$(basename $(PAGE)).png)"

clean:
	rm -rf runs
