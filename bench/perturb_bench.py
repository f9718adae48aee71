#!/usr/bin/env python
"""Throughput of the composed vision perturbation vs one student forward+backward.

    python bench/perturb_bench.py [--bs 32] [--size 224] [--reps 3]

Times `Perturb([...every non-adversarial vision perturbation...], severity=(1, 3))` on a (bs, 3, size, size) batch on
the CPU, and one forward + backward pass of the student (the effnet-minilm zero-shot Classifier, all parameters
trainable, train mode) on the same batch, in one run. Prints one JSON line."""
import argparse, json, os, platform
import torch
from rtd_nb.perturb import throughput, PERTURBATIONS
from rtd_nb.models import zeroshot_classifier

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bs", type=int, default=32); ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    student = zeroshot_classifier("effnet-minilm", ["cat", "dog", "car", "bird", "house", "tree"]).train()
    r = throughput(student, bs=a.bs, size=a.size, reps=a.reps, names=list(PERTURBATIONS), severity=(1, 3))
    r.update(threads=torch.get_num_threads(), cpus=os.cpu_count(), load_avg=os.getloadavg(), torch=torch.__version__,
             machine=platform.machine())
    print(json.dumps(r, default=float))
