"""Fix-ups across pages: heading ids as Pandoc makes them, and doc links to entries no page shows."""
from __future__ import annotations
import json, os, re
from pathlib import Path
from . import SRC

_re_hdr = re.compile(r'^#{1,6}\s+(.*?)\s*#*\s*$', re.M)
_re_symlink = re.compile(r'\[(`[^`\]]+`)\]\(((?:\./|\.\./)*)([\w/.-]+)\.html#([^)\s]+)\)')

def slug(t:str)->str:
    ("A heading's id as Pandoc (so Quarto) makes it, which nbdev's doc links expect: "
     "`Classifier.forward` -> `classifier.forward`")
    t = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', t)        # link text only, as Pandoc
    s = re.sub(r'[^\w\s.-]', '', t.strip().lower())
    return re.sub(r'^[^a-z]+', '', re.sub(r'\s+', '-', s)) or 'section'

def drop_dead_anchors(names:list[str], src:Path=SRC):
    ("nbdev links every backticked symbol of the library; unlink those whose page shows no entry for it "
     "(e.g. `_private`).")
    anchors, nbs = {}, {}
    for n in names:
        f = src/f'{n}.ipynb'
        if not f.exists(): continue
        nb = nbs[n] = json.loads(f.read_text())
        md = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown']
        for c in nb['cells']:
            for o in c.get('outputs', []):
                v = o.get('data', {}).get('text/markdown')
                if v: md.append(v if isinstance(v, str) else ''.join(v))
        anchors[n] = {slug(h) for m in md for h in _re_hdr.findall(m)}
    for n, nb in nbs.items():
        here = Path(n).parent
        def fix(m):
            target = os.path.normpath(here/m.group(2)/m.group(3)).replace(os.sep, '/')
            if target in anchors and m.group(4) not in anchors[target]: return m.group(1)
            return m.group(0)
        changed = False
        for c in nb['cells']:
            srcs = [c] + [o['data'] for o in c.get('outputs', []) if 'text/markdown' in o.get('data', {})]
            for d in srcs:
                k = 'source' if d is c else 'text/markdown'
                v = d[k]; v = v if isinstance(v, str) else ''.join(v)
                w = _re_symlink.sub(fix, v)
                if w != v: d[k] = w; changed = True
        if changed: (src/f'{n}.ipynb').write_text(json.dumps(nb, indent=1, ensure_ascii=False))
