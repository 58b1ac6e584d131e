# MoviePulse task runner. The two commands a newcomer needs: `make run` and `make test`.
PY      := .venv/bin/python
STAMP   := .venv/.installed-stamp

.PHONY: run test bench lint snapshots-update install clean

install: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml moviepulse/ssr/_scan.c
	bash scripts/bootstrap.sh
	@touch $(STAMP)

## run: install into .venv, migrate, start fake upstreams, import the demo, web + Huey consumer, demo traffic
run: $(STAMP)
	bash scripts/run.sh

## test: install what the tests need (venv, chromium, fonts, services) and run every tier
test:
	bash scripts/test.sh

## bench: every benchmark (or BENCH="name ..."), ratios against baselines measured in the same run
bench: $(STAMP)
	$(PY) -m bench $(BENCH)

lint: $(STAMP)
	.venv/bin/ruff check .

## snapshots-update: re-take the visual baselines under tests/visual/
snapshots-update: $(STAMP)
	bash scripts/test.sh --update-snapshots

clean:
	rm -rf .venv instance build *.egg-info
