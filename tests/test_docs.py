"""The documentation site, built by tools/docs.sh and opened in a real browser (headless Chromium driven by Selenium).

Every page loads without console errors, every image loads, every internal link (and its #anchor) resolves, every
notebook has its page in the navigation, hidden cells stay hidden, and the screenshots of docs/README.md can be taken.
Skipped, with the reason, only when Chromium or its driver is not installed (tools/setup.sh installs both).
The build executes only notebooks whose cached execution is stale (after tools/test.sh's executor: none, and
RTD_DOCS_EXPECT_CACHED makes it fail otherwise). Set RTD_DOCS_ONLY (globs) to execute only some notebooks for a quicker
local run. RTD_DOCS_SITE=_site checks a site already built by tools/docs.sh instead of building one.
Screenshots go to a temporary folder; `make screenshots` (RTD_SCREENSHOTS=docs/img) refreshes the committed ones.
"""
import ast, html.parser, http.server, json, os, re, shutil, subprocess, sys, threading, time, urllib.error, \
    urllib.request
from functools import partial
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
DRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'

if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    pytest.skip(f'Chromium not installed ({CHROMIUM}, {DRIVER} missing): apt-get install chromium chromium-driver '
                '(tools/setup.sh does) to run the docs browser test', allow_module_level=True)

sys.path.insert(0, str(ROOT/'tools'))
import docsite                                 # tools/docsite: the build, and how it names pages
from docsite import sources

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

class _Ids(html.parser.HTMLParser):
    "Every id/name an #anchor can point at, and the images/links of a page."
    def __init__(self):
        super().__init__(); self.ids = set()
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k == 'id' or (k == 'name' and tag == 'a'): self.ids.add(v)

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    srcs = sources.notebooks()      # before the build: notebooks added while it runs are not expected in it
    if os.environ.get('RTD_DOCS_SITE'):   # check a site already built by tools/docs.sh instead of building one
        out = Path(os.environ['RTD_DOCS_SITE']).resolve()
    else:
        out = tmp_path_factory.mktemp('docs')/'site'
        t0 = time.time()
        r = subprocess.run(['bash', str(ROOT/'tools'/'docs.sh'), str(out)], cwd=ROOT, capture_output=True, text=True)
        print(f'docs build: {time.time() - t0:.0f} s\n' + r.stdout[-3000:])
        assert r.returncode == 0, f'tools/docs.sh failed:\n{r.stdout[-4000:]}\n{r.stderr[-8000:]}'
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), partial(_Quiet, directory=str(out)))
    th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    yield out, f'http://127.0.0.1:{srv.server_address[1]}/', srcs
    srv.shutdown(); srv.server_close()

@pytest.fixture(scope='module')
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
              '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
              '--window-size=1400,1000', '--hide-scrollbars'):
        o.add_argument(a)
    o.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    d = webdriver.Chrome(service=Service(DRIVER), options=o)
    d.set_page_load_timeout(60)
    yield d
    d.quit()

def pages(out): return sorted(r.as_posix() for r in (p.relative_to(out) for p in out.rglob('*.html'))
                              if not any(x.startswith('_') for x in r.parts))

def _open(d, url):
    d.get(url)
    end = time.time() + 20
    while time.time() < end:    # loaded, every <img> decoded, MathJax (if any) done typesetting
        ok = d.execute_script("""return document.readyState === 'complete'
            && Array.from(document.images).every(i => i.complete)
            && (!window.MathJax || !MathJax.startup || !MathJax.startup.promise || window.__mjdone === true)""")
        if ok: return
        d.execute_script("if (window.MathJax && MathJax.startup && MathJax.startup.promise && !window.__mjwait)"
                         "{window.__mjwait = 1; MathJax.startup.promise.then(() => window.__mjdone = true);}")
        time.sleep(0.2)

def test_every_notebook_has_a_page_in_the_navigation(site):
    out, base, srcs = site
    assert any(p.stem == '00_core' for p in srcs)
    home = (out/'index.html').read_text()
    for p in srcs:
        name = sources.page_name(p)
        assert (out/f'{name}.html').exists(), f'{p} has no page {name}.html'
        if name != 'index':
            assert f'href="{name}.html"' in home, f'{name}.html is not in the navigation of the home page'
    sidebar = (ROOT/'nbs'/'sidebar.yml').read_text()   # Quarto's sidebar lists the same notebooks
    for p in srcs:
        if p.parent.name == 'nbs' and p.stem != 'index': assert p.name in sidebar
    if (ROOT/'papers'/'paper.qmd').exists():
        assert 'href="papers/paper.html"' in home and 'papers/paper.html' in sidebar

def test_pages_load_clean_in_chromium(site, browser):
    "No SEVERE console entry, every image has pixels, no hidden cell or nbdev directive is visible."
    out, base, _ = site
    bad = []
    for pg in pages(out):
        _open(browser, urljoin(base, pg))
        errs = [e['message'] for e in browser.get_log('browser') if e['level'] == 'SEVERE']
        if errs: bad.append(f'{pg}: console errors {errs[:3]}')
        broken = browser.execute_script("return Array.from(document.images).filter(i => !(i.naturalWidth > 0))"
                                        ".map(i => i.src)")
        if broken: bad.append(f'{pg}: images that did not load {broken[:3]}')
        text = browser.execute_script('return document.body.innerText')
        for s in ('#| hide', '#| export', '#|export', '#| default_exp', 'from nbdev.showdoc import'):
            if s in text: bad.append(f'{pg}: shows {s!r} (a hidden cell or a directive)')
    assert not bad, '\n'.join(bad)

def test_internal_links_and_anchors_resolve(site):
    out, base, _ = site
    ids_cache, bad, seen = {}, [], set()
    def ids(u):
        if u not in ids_cache:
            with urllib.request.urlopen(u, timeout=10) as r:
                body = r.read().decode('utf-8', 'replace') if 'html' in r.headers.get('Content-Type', '') else ''
            p = _Ids(); p.feed(body); ids_cache[u] = p.ids
        return ids_cache[u]
    for pg in pages(out):
        url = urljoin(base, pg)
        text = (out/pg).read_text()
        refs = (re.findall(r'''<(?:a|link)\b[^>]*\bhref="([^"]+)"''', text) +
                re.findall(r'''<(?:img|script)\b[^>]*\bsrc="([^"]+)"''', text))
        for h in refs:
            h = html.unescape(h)
            full = urljoin(url, h)
            if not full.startswith(base) or (pg, full) in seen: continue
            seen.add((pg, full))
            doc, frag = urldefrag(full)
            try:
                with urllib.request.urlopen(doc, timeout=10) as r: status = r.status
            except urllib.error.HTTPError as e: status = e.code
            if status != 200: bad.append(f'{pg}: {h} -> HTTP {status}'); continue
            if frag and frag not in ids(doc): bad.append(f'{pg}: {h} -> no element with id {frag!r}')
    assert not bad, '\n'.join(bad[:40])

def test_pages_show_api_docs_and_figures(site):
    "show_doc entries are rendered, and every figure a notebook makes reaches its page as an <img>."
    out, base, _ = site
    core = (out/'core.html').read_text()
    assert 'tag_showdoc' in core and 'seed_everything' in core and 'id="seed_everything"' in core
    for nb in docsite.SRC.rglob('*.ipynb'):
        cells = json.loads(nb.read_text())['cells']
        n_img = sum('image/png' in o.get('data', {}) for c in cells for o in c.get('outputs', []))
        if not n_img: continue
        page = out/nb.relative_to(docsite.SRC).with_suffix('.html')
        assert page.read_text().count('<img') >= n_img, f'{page.name} lost figures'

def test_quarto_path_can_process_every_notebook():
    ("""`nbdev_docs` (the Quarto path) first runs `nbdev_proc_nbs`, which renders show_doc by executing each notebook's
    import cells *on their own*. A cell mixing imports with other code then runs out of context and stops the docs build
    (nbdev warns "Found cells containing imports and other code"). """
     """This build does not need that step, so check it here.""")
    from nbdev.process import NBProcessor
    from nbdev.processors import _ast_contains
    bad = []
    for p in sources.notebooks():
        if p.suffix != '.ipynb': continue
        for i, c in enumerate(NBProcessor(p).nb.cells):
            if c.cell_type != 'code' or not c.source: continue
            d = c.directives_ or {}
            if (d.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or
                d.get('eval:', [''])[0].lower() == 'false'): continue
            trees = c.parsed_()
            if (trees and _ast_contains(trees, (ast.Import, ast.ImportFrom)) and
                _ast_contains(trees, (ast.Expr, ast.Assign))):
                bad.append(f'{p.relative_to(ROOT)} cell {i}: {c.source.strip().splitlines()[0][:80]}')
    assert not bad, ('nbdev_docs would run these cells out of context: move their imports into the import cell '
                     '(or into a cell of their own):\n' + '\n'.join(bad))

def test_screenshots_for_the_readme(site, browser, tmp_path):
    ("docs/README.md's screenshots: taken into a temporary folder, "
     "or into RTD_SCREENSHOTS (`make screenshots`: docs/img).")
    out, base, _ = site
    IMG = Path(os.environ['RTD_SCREENSHOTS']).resolve() if os.environ.get('RTD_SCREENSHOTS') else tmp_path
    IMG.mkdir(parents=True, exist_ok=True)
    comp = next(p for p in ('models.html', 'core.html') if (out/p).exists())
    for pg, fn in (('index.html', 'home.png'), (comp, 'component.png')):
        _open(browser, urljoin(base, pg))
        browser.execute_script('sessionStorage.clear(); localStorage.clear()')   # the theme restores sidebar scroll
        _open(browser, urljoin(base, pg))
        browser.execute_script("window.scrollTo(0, 0); document.querySelectorAll('.bd-sidebar-primary, .bd-sidebar')"
                               ".forEach(e => e.scrollTop = 0)"); time.sleep(0.3)
        assert browser.save_screenshot(str(IMG/fn))
        assert (IMG/fn).stat().st_size > 10_000
