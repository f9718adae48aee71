"""Print the `uv pip install` options that reproduce this machine's pip settings (`pip config list`: config files and
PIP_* variables): its index URLs, find-links, constraints and certificate. tools/setup.sh installs with uv (several
times faster than pip at unpacking torch and resolving the dev extras) and falls back to pip if uv fails."""
import shlex, subprocess, sys

FLAGS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
         "constraint": "--constraint"}

def uv_args(listing:str)->list:
    "uv options from the lines of `pip config list` (`scope.key='value'`; a later scope overrides an earlier one)."
    seen = {}
    for line in listing.splitlines():
        key, sep, value = line.partition("=")
        if not sep: continue
        seen[key.rsplit(".", 1)[-1]] = shlex.split(value)[0] if value.strip() else ""
    # pip takes a package's best version from any index; uv's default would stop at the first index that lists it
    out = ["--index-strategy", "unsafe-best-match"]
    for key, flag in FLAGS.items():
        for v in seen.get(key, "").split(): out += [flag, v]
    return out

if __name__ == "__main__":
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    print(shlex.join(uv_args(listing)))
