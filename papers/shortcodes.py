"""Quarto's `{{< var key >}}` and `{{< include file >}}` shortcodes, expanded without Quarto.

The paper (`paper.qmd`) quotes numbers only as `{{< var key >}}` (values in `_variables.yml`, written by `build.py`)
and pulls its tables in with `{{< include tables/main.md >}}`. Quarto cannot be installed here, so `render.py` (paper →
HTML with pandoc) and the documentation build (`tools/docsite/qmd.py`) both expand them with this module."""
from __future__ import annotations
import re
from pathlib import Path

RE_VAR = re.compile(r"\{\{<\s*var\s+([^\s>]+)\s*>\}\}")
RE_INCLUDE = re.compile(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}")

def shortcode_vars(text:str)->list:
    "The keys of every `{{< var key >}}` in `text`, in order of appearance."
    return RE_VAR.findall(text)

def shortcode_includes(text:str)->list:
    "The paths of every `{{< include path >}}` in `text`."
    return RE_INCLUDE.findall(text)

def expand_shortcodes(text:str,          # Quarto Markdown
                      base:str|Path,     # folder include paths are relative to
                      variables:dict,    # var key → value (e.g. read from _variables.yml)
                      strict:bool=True,  # unknown var or missing include → error (else a visible marker)
                      depth:int=0,       # include nesting so far (a cycle stops at 10)
                     )->str:
    "Replace `{{< include f >}}` by the file's (expanded) text and `{{< var k >}}` by `variables[k]`."
    base = Path(base)
    if depth > 10: raise RecursionError(f"{{{{< include >}}}} nested more than 10 deep under {base} (a cycle?)")
    def inc(m):
        p = base/m.group(1)
        if not p.exists():
            if strict: raise FileNotFoundError(f"include {m.group(1)} not found in {base}: "
                                               f"run `python papers/build.py --results <R>` first")
            return f"**Missing: `{m.group(1)}`**"
        return expand_shortcodes(p.read_text(), p.parent, variables, strict, depth + 1)
    def var(m):
        k = m.group(1)
        if k not in variables:
            if strict: raise KeyError(f"{{{{< var {k} >}}}} is not defined in the variables: "
                                      f"add it to rtd_nb.report.paper_values")
            return f"**?{k}?**"
        return str(variables[k])
    return RE_VAR.sub(var, RE_INCLUDE.sub(inc, text))

def read_variables(d:str|Path)->dict:
    "The values of `d/_variables.yml` ({} when the file is not there)."
    import yaml
    p = Path(d)/"_variables.yml"
    return (yaml.safe_load(p.read_text()) or {}) if p.exists() else {}
