# The two commands of the README. Both create .venv and install what they need (scripts/setup.sh).
VENV ?= .venv
LABELS ?= data/labels/demo_actions.txt
OUT ?= out/demo_corpus.parquet

.PHONY: demo test
demo:
	bash scripts/setup.sh
	mkdir -p $(dir $(OUT))
	$(VENV)/bin/corpus build --labels $(LABELS) --out $(OUT) --no-llm

test:
	bash scripts/setup.sh dev
	$(VENV)/bin/python -m pytest -q
