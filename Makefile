# rtd_nb: the two commands a fresh machine needs.
#   make paper  - set up everything, then run the main job on the embedded real data
#   make test   - set up everything, then run every test (export and clean checks, every notebook once, pytest)
.PHONY: setup paper test docs screenshots bench readme export
# make bench runs this many isolated measurements side by side, each with its share of the cores (1 on a GPU)
BENCH_JOBS ?= 2

setup:
	bash tools/setup.sh

paper: setup
	bash tools/paper.sh

# RTD's cost frontier (its cost variants, then the step-time benchmark) and the seeds' ablation grid (RTD: T x lambda_KD
# x lambda_AR, AR-only, perturbations, layers; Lipsum-FT: L, M, KLD, bank), into the same results as make paper
ablations: setup
	PARTS=frontier,ablations bash tools/paper.sh

test: setup
	bash tools/test.sh

# the documentation site, rendered without Quarto (Sphinx + MyST-NB) into _site/; see docs/README.md
docs: setup
	bash tools/docs.sh

# refresh the committed screenshots docs/img/*.png from the site (the test suite takes them into a temporary folder)
screenshots: setup
	RTD_SCREENSHOTS=docs/img .venv/bin/python -m pytest tests/test_docs.py -q -p no:cacheprovider -k screenshots

# step time and peak memory of every method relative to plain fine-tuning -> results/bench/overhead.{json,md}
# (BENCH_JOBS processes side by side; each ratio pairs a method with FT in its own process)
bench: setup
	.venv/bin/python bench/run.py --jobs $(BENCH_JOBS)

# README.md from nbs/index.ipynb
readme: setup
	bash tools/readme.sh

export:
	.venv/bin/nbdev_export && .venv/bin/nbdev_clean
