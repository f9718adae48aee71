"""Compute-overhead benchmark of the robust fine-tuning methods: `python bench/run.py --help`.

Writes results/bench/overhead.json and overhead.md (read by the paper's compute-overhead table); `--tag before`
writes overhead_before.{json,md} instead (e.g. a run of an older version, for a before/after comparison);
`--model-reps vit-b-32=2` takes fewer timed steps on one model."""
from rtd_nb.bench import main

if __name__ == "__main__": main()
