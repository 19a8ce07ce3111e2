"""The course website (`make site`): built from the committed notebooks, read in a real browser.

The site is built into a temporary folder (tools.site, the same code `make site` runs), served on
a loopback port and opened in headless Chromium, the browser test's setup (Debian's Chromium driven
by Playwright). Every request to another host is refused, as on a machine with no network: the
site must need none. Each page reached from the landing page, following every internal link once,
loads without console errors or failed requests; each notebook page shows its figures (images that
loaded) and its math rendered by the bundled MathJax. Screenshots land in test-artifacts/site/.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import nbformat
import pytest
from conftest import CHROMIUM

from tools import site

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "site"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$`\w])\$[^\s$`][^$`\n]*?\$", re.S)  # $$..$$ or $..$ outside code
MAX_BUILD_S = 120

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

sphinx_missing = None
for _module in ("sphinx", "myst_nb", "sphinx_book_theme"):
    try:
        __import__(_module)
    except ImportError:
        sphinx_missing = _module

needs_sphinx = pytest.mark.skipif(sphinx_missing is not None, reason=f"{sphinx_missing} is not installed: "
                                  "`make site` installs the site extra (pip install -c constraints.txt -e .[site])")


def needs_browser(test):
    """Skip, with the reason, where Chromium or Playwright is missing (`.ci/run` installs both)."""
    test = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")(test)
    return pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install playwright)")(test)


def lecture_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


# ------------------------------------------------------------------ widgets become pictures (no browser)

def test_widgets_become_stills():
    for path in lecture_notebooks():
        nb = nbformat.read(path, as_version=4)
        views = sum(WIDGET_VIEW in out.get("data", {}) for c in nb.cells if c.cell_type == "code" for out in c.outputs)
        still = site.static_widgets(nb)
        assert "widgets" not in still.metadata, "widget state left in: the page would load widget JavaScript"
        assert len(still.cells) == len(nb.cells)
        for cell, before in zip(still.cells, nb.cells):
            if cell.cell_type != "code":
                continue
            for out in cell.outputs:
                assert WIDGET_VIEW not in out.get("data", {}), f"{path.name}: a widget view survived"
                assert "VBox(children=" not in str(out.get("data", {}).get("text/plain", ""))
            if any(WIDGET_VIEW in o.get("data", {}) and "VBox" in o.data.get("text/plain", "") for o in before.outputs):
                # an explorer: the picture its Output widget held when the notebook was saved, and a note
                assert any("image/png" in o.get("data", {}) for o in cell.outputs), f"{path.name}: explorer without its picture"
                assert any("widget-still-note" in o.get("data", {}).get("text/html", "") for o in cell.outputs)
        if views:
            assert still != nb


def test_a_progress_bar_becomes_its_last_line():
    state = {
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_b", "IPY_MODEL_c"]}},
        "a": {"model_name": "HTMLModel", "state": {"value": "epoch\u20071/2:\u2007100%"}},
        "b": {"model_name": "FloatProgressModel", "state": {"value": 10.0, "max": 10.0}},
        "c": {"model_name": "HTMLModel", "state": {"value": "\u200710/10\u2007[00:01&lt;00:00]"}},
    }
    (out,) = site.widget_still("bar", state)
    assert out.output_type == "stream" and out.text == "epoch 1/2: 100%|" + "█" * 20 + "| 10/10 [00:01<00:00]\n"
    (missing,) = site.widget_still("gone", {})  # a view whose state was not saved: a note, no error
    assert "interactive widget" in missing.data["text/html"]


# ------------------------------------------------------------------ the built site in a browser

@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The site built from scratch into a temporary folder: (output folder, documents, seconds)."""
    if sphinx_missing is not None:
        pytest.skip(f"{sphinx_missing} is not installed: `make site` installs the site extra")
    tmp = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    docs = site.build(tmp / "html", stage_dir=tmp / "src", doctrees=tmp / "doctrees")
    return tmp / "html", docs, time.perf_counter() - start


@needs_sphinx
def test_builds_every_page_in_time(built):
    out, docs, seconds = built
    assert seconds < MAX_BUILD_S, f"the site took {seconds:.0f} s to build (budget {MAX_BUILD_S} s)"
    expected = {f"notebooks/{p.stem}" for p in lecture_notebooks()} | {"index", "docs/instructor-notes"}
    expected |= {f"notebooks/student/{p.stem}" for p in (ROOT / "notebooks" / "student").glob("*.ipynb")}
    assert set(docs) == expected
    for doc in expected:
        assert (out / f"{doc}.html").is_file(), f"{doc}.html was not built"
    assert (out / "_static" / "mathjax" / "tex-chtml.js").is_file(), "MathJax is not bundled"
    landing = (out / "index.html").read_text()
    assert "Measured results" in landing and "<table" in landing  # the README's results tables


@pytest.fixture(scope="module")
def server(built):
    """The built site over HTTP on a free loopback port (as GitHub Pages would serve it)."""
    out = built[0]
    handler = functools.partial(QuietHandler, directory=str(out))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(chromium):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return chromium


@pytest.fixture(scope="module")
def crawl(server, browser):
    """Every page reached from the landing page, each internal link followed once: what each showed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    origin = urlparse(server).netloc
    offsite: list[str] = []

    def route(r):  # no network: any other host is refused (and noted; links to it are fine)
        if urlparse(r.request.url).netloc == origin:
            r.continue_()
        else:
            offsite.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    start = [server, urljoin(server, "search.html?q=attention"), urljoin(server, "genindex.html")]
    pages, anchors, queue, seen = {}, {}, deque(start), set(start)
    while queue:
        url = queue.popleft()
        path = urlparse(url).path
        if not (path.endswith(".html") or path.endswith("/")):  # a download (.ipynb source, ...)
            response = context.request.get(url)
            pages[url] = {"status": response.status, "errors": [], "failed": []}
            continue
        page = context.new_page()
        errors, failed = [], []
        page.on("console", lambda m, e=errors: m.type == "error" and e.append(m.text))
        page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
        page.on("requestfailed", lambda r, f=failed: urlparse(r.url).netloc == origin and f.append(r.url))
        page.on("response", lambda r, f=failed: r.status >= 400 and f.append(f"{r.status} {r.url}"))
        response = page.goto(url, wait_until="load")
        info = {"status": response.status, "errors": errors, "failed": failed}
        if page.locator(".math").count():  # MathJax typesets after load
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
            page.evaluate("() => MathJax.startup.promise")
        info["math"] = page.locator(".math").count()
        info["mathjax"] = page.locator("mjx-container").count()
        info["math_errors"] = page.locator("mjx-merror").count()
        info["images"] = page.evaluate(
            "() => [...document.querySelectorAll('article img')].map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0,"
            " output: !!i.closest('.cell_output')}))")
        info["text"] = page.evaluate("() => (document.querySelector('article') || document.body).innerText")
        info["ids"] = set(page.evaluate("() => [...document.querySelectorAll('[id]')].map(e => e.id)"))
        for href in page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)"):
            target, fragment = urldefrag(urljoin(url, href))
            if urlparse(target).netloc != origin:
                continue
            if fragment:
                anchors.setdefault(target, set()).add((fragment, url))
            if target not in seen:
                seen.add(target)
                queue.append(target)
        pages[url] = info
        page.close()
    context.close()
    return pages, anchors, offsite


def doc_url(server: str, doc: str) -> str:
    return server if doc == "index" else urljoin(server, f"{doc}.html")


@needs_sphinx
@needs_browser
def test_every_page_loads_cleanly(crawl):
    pages, _, offsite = crawl
    assert len(pages) >= 9
    for url, info in pages.items():
        assert info["status"] == 200, f"{url}: HTTP {info['status']}"
        assert not info["errors"], f"{url}: console errors {info['errors']}"
        assert not info["failed"], f"{url}: failed requests {info['failed']}"
    assert not offsite, f"the site asked other hosts for {sorted(set(offsite))[:5]}: it must work offline"


@needs_sphinx
@needs_browser
def test_links_between_pages_work(crawl, server):
    pages, anchors, _ = crawl
    for doc in ["index", "docs/instructor-notes", *(f"notebooks/{p.stem}" for p in lecture_notebooks())]:
        assert doc_url(server, doc) in pages, f"no link leads to {doc}"
    for target, wanted in anchors.items():
        ids = pages.get(target, {}).get("ids")
        if ids is None:  # a download, not a page
            continue
        missing = sorted((frag, src) for frag, src in wanted if frag not in ids)
        assert not missing, f"{target}: no element for the anchors linked as {missing[:5]}"


@needs_sphinx
@needs_browser
@pytest.mark.parametrize("path", lecture_notebooks(), ids=lambda p: p.name)
def test_notebook_page_shows_figures_and_math(crawl, server, path):
    pages = crawl[0]
    info = pages[doc_url(server, f"notebooks/{path.stem}")]
    nb = site.static_widgets(nbformat.read(path, as_version=4))
    figures = sum("image/png" in out.get("data", {}) for c in nb.cells if c.cell_type == "code" for out in c.outputs)
    shown = [img for img in info["images"] if img["output"]]
    broken = [img["src"] for img in info["images"] if not img["ok"]]
    assert not broken, f"{path.name}: images that did not load: {broken[:5]}"
    assert len(shown) == figures, f"{path.name}: {len(shown)} figures on the page, {figures} in the notebook"
    math = sum(len(MATH.findall(re.sub(r"```.*?```|`[^`]*`", "", c.source, flags=re.S)))
               for c in nb.cells if c.cell_type == "markdown")
    if math:
        assert info["math"] >= 1, f"{path.name}: the notebook has math but the page marks none"
        assert info["mathjax"] >= info["math"], f"{path.name}: {info['math']} formulas, {info['mathjax']} typeset"
        assert info["math_errors"] == 0, f"{path.name}: MathJax reported {info['math_errors']} error(s)"
    assert "VBox(children=" not in info["text"] and "HBox(children=" not in info["text"]


@needs_sphinx
@needs_browser
def test_screenshots(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.route("**/*", lambda r: r.continue_() if urlparse(r.request.url).hostname == "127.0.0.1" else r.abort())
    page.goto(server, wait_until="load")
    page.locator("h2", has_text="Measured results").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "landing_results.png"))
    page.goto(doc_url(server, "notebooks/01_attention"), wait_until="load")
    page.wait_for_selector("mjx-container", timeout=30_000)
    page.locator("div.math").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "notebook_01_math.png"))
    page.goto(doc_url(server, "notebooks/03_positional_encodings"), wait_until="load")
    page.locator(".widget-still-note").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "notebook_03_widget_still.png"))
    page.close()
    for name in ("landing_results", "notebook_01_math", "notebook_03_widget_still"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
