"""For lecturers: the exercise convention, the student edition, the course site and the slides.

The site and the slides are built from the notebooks' executions of this test run (the
`executed_notebooks` fixture of course/pytest_plugin.py orders these tests after the notebooks),
through the same entry points as `make book` and `make slides`, then opened in headless
Chromium with every request to another host blocked.  ENOT_UPDATE_SCREENSHOT=1 refreshes the
README's picture of the site (docs/screenshot_site.png).
"""
import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import nbformat
import pytest

from course import cells, execute, notebooks, slides, student

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = notebooks()
ids = [p.name for p in NOTEBOOKS]


def _nb(*specs):
    """A small notebook from (cell_type, source, tags) triples."""
    nb = nbformat.v4.new_notebook()
    for kind, source, tags in specs:
        new = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(new(source, metadata={"tags": list(tags)} if tags else {}))
    return nb


# ----------------------------------------------------------------------------- the convention


def test_the_course_is_found_by_glob():
    assert NOTEBOOKS and all(re.match(r"\d+_.+\.ipynb$", p.name) for p in NOTEBOOKS)
    assert NOTEBOOKS == sorted(NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_every_exercise_follows_the_convention(path):
    """A solution is a code cell tagged `solution`, collapsed, after the exercise's text; a cell
    that starts with `# Solution` has the tag; checks come after a solution; delimiters pair up."""
    nb = nbformat.read(path, as_version=4)
    problems, text, solved = [], "", False
    for i, cell in enumerate(nb.cells):
        tags = cells.tags(cell)
        if cell.cell_type != "code":
            if tags & {cells.SOLUTION, cells.CHECK}:
                problems.append(f"cell {i}: only code cells are solutions or checks")
            text = cell.source
            continue
        if cell.source.lstrip().startswith("# Solution") and not cells.is_solution(cell):
            problems.append(f"cell {i}: starts with '# Solution' but is not tagged '{cells.SOLUTION}'")
        if cells.is_solution(cell):
            solved = True
            if cells.is_check(cell):
                problems.append(f"cell {i}: a cell is a solution or a check, not both")
            if not cell.metadata.get("jupyter", {}).get("source_hidden"):
                problems.append(f"cell {i}: solution not collapsed (metadata.jupyter.source_hidden)")
            if "Exercise" not in text:
                problems.append(f"cell {i}: solution does not follow an exercise's text")
            try:
                cells.student_source(cell.source)
            except ValueError as err:
                problems.append(f"cell {i}: {err}")
        if cells.is_check(cell) and not solved:
            problems.append(f"cell {i}: check before any solution")
    assert not problems, problems
    assert any(cells.is_solution(c) for c in nb.cells), "every notebook has exercises with solutions"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_no_cell_uses_what_only_a_solution_defines(path):
    assert cells.solution_leaks(nbformat.read(path, as_version=4)) == []


def test_the_leak_check_finds_a_later_cell_that_needs_a_solution():
    nb = _nb(("code", "import numpy as np\nx = np.ones(3)", ()),
             ("code", "# Solution\ny = x.sum()\ndef helper(): return y", [cells.SOLUTION]),
             ("code", "assert y == 3", [cells.CHECK]),                     # checks may
             ("code", "print(x, [helper() for _ in range(2)])", ()),        # ordinary cells may not
             ("code", "y = 0\nprint(y)", ()))                               # rebinding is fine
    assert cells.solution_leaks(nb) == [(3, ["helper"])]
    starter = _nb(("code", "a = 1", [cells.SOLUTION]),
                  ("code", f"print(a)\n{cells.BEGIN}\nb = 2\n{cells.END}", [cells.SOLUTION]))
    assert cells.solution_leaks(starter) == [(1, ["a"])]  # starter code runs in the student edition too


def test_student_source_replaces_the_solution_and_keeps_starter_code():
    assert cells.student_source("# Solution\nx = 1") == cells.PLACEHOLDER
    source = f"def f(x):\n    {cells.BEGIN}\n    return 2 * x\n    {cells.END}\nprint(f(1))"
    out = cells.student_source(source)
    assert "return 2 * x" not in out and out.startswith("def f(x):\n    # YOUR CODE HERE") and out.endswith("print(f(1))")
    assert f'    raise NotImplementedError("{cells.NOT_DONE}")' in out
    compile(out, "<cell>", "exec")
    for broken in (f"{cells.BEGIN}\nx = 1", f"x = 1\n{cells.END}", f"{cells.BEGIN}\n{cells.BEGIN}\n{cells.END}"):
        with pytest.raises(ValueError):
            cells.student_source(broken)


def test_the_placeholder_raises_the_exercise_error():
    with pytest.raises(NotImplementedError, match=cells.NOT_DONE):
        exec(cells.PLACEHOLDER, {})


# ----------------------------------------------------------------------------- the student edition


def test_make_student_writes_an_edition_of_every_notebook(tmp_path):
    written = student.build(out=tmp_path)
    assert [p.name for p in written] == ids
    for path, edition in zip(NOTEBOOKS, written):
        full, stud = nbformat.read(path, as_version=4), nbformat.read(edition, as_version=4)
        assert len(full.cells) == len(stud.cells)
        for a, b in zip(full.cells, stud.cells):
            if cells.is_solution(a):
                assert b.source == cells.student_source(a.source) and cells.NOT_DONE in b.source
                assert not b.metadata.get("jupyter", {}).get("source_hidden"), "the placeholder is in view"
                assert cells.SOLUTION in cells.tags(b)
            else:
                assert a == b, "every other cell is untouched"
        elsewhere = {line.strip() for c in full.cells if not cells.is_solution(c) for line in c.source.splitlines()}
        solution_lines = {line.strip() for c in full.cells if cells.is_solution(c) for line in c.source.splitlines()
                          if line.strip() and line.strip() not in cells.student_source(c.source)} - elsewhere
        leaked = [line for c in stud.cells for line in c.source.splitlines() if line.strip() in solution_lines]
        assert not leaked, leaked


def test_one_execution_runs_each_placeholder_before_its_solution(tmp_path):
    """course.execute on small notebooks: outputs kept, the placeholder probed; a cell that
    fails, or starter code that would fail in the student edition, fails the notebook."""
    good = _nb(("markdown", "**Exercise 1.** Double x.", ()), ("code", "x = 21\nprint(x)", ()),
               ("code", f"y = x\n{cells.BEGIN}\ny = 2 * x\n{cells.END}", [cells.SOLUTION]),
               ("code", "assert y == 42", [cells.CHECK]))
    broken = _nb(("code", "x = 1", ()), ("code", "1 / 0", ()))
    bad_starter = _nb(("code", f"print(undefined_name)\n{cells.BEGIN}\nz = 1\n{cells.END}", [cells.SOLUTION]))
    paths = {}
    for name, nb in (("good", good), ("broken", broken), ("bad_starter", bad_starter)):
        paths[name] = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, paths[name])
    out = execute.execute(paths["good"])
    assert out.cells[1].outputs[0].text == "21\n" and out.metadata["course"]["probed_solutions"] == 1
    with pytest.raises(execute.NotebookFailed, match="cell 1") as err:
        execute.execute(paths["broken"])
    assert "ZeroDivisionError" in str(err.value)
    with pytest.raises(execute.NotebookFailed, match="student edition of this solution cell") as err:
        execute.execute(paths["bad_starter"])
    assert "NameError" in str(err.value)


def test_the_executions_ran_every_placeholder(executed_notebooks):
    """The one execution per notebook ran each solution's student version first (course.execute)."""
    for path, nb in executed_notebooks.items():
        solutions = sum(cells.is_solution(c) for c in nb.cells)
        assert nb.metadata["course"]["probed_solutions"] == solutions, path.name
        assert not any(out.output_type == "error" for c in nb.cells for out in c.get("outputs", [])), path.name


# ----------------------------------------------------------------------------- the slides (derivation)


def test_slide_types_follow_the_structure_unless_set():
    nb = _nb(("markdown", "# 01 · Title", ()), ("markdown", "## 1. Section", ()), ("markdown", "Some text", ()),
             ("code", "x = 1", ()), ("code", "# Solution\nx", [cells.SOLUTION]), ("code", "assert x", [cells.CHECK]))
    nb.cells.append(nbformat.v4.new_markdown_cell("## Notes", metadata={"slideshow": {"slide_type": "notes"}}))
    assert [slides.slide_type(c) for c in nb.cells] == ["slide", "slide", "subslide", "fragment", "skip", "skip", "notes"]


# ----------------------------------------------------------------------------- built outputs in a browser


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def serve():
    """serve(folder) -> base URL of a local HTTP server for that folder (stopped after the module)."""
    servers = []

    def start(folder):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


def _browser(p, chromium_path):
    return p.chromium.launch(executable_path=chromium_path, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"])


def _local_only(context, base, blocked):
    """Abort, and record, every request that does not go to the local server."""
    def handle(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()
    context.route("**/*", handle)


def _entry_point(module):
    """What `make book` / `make slides` run, in a subprocess (the saved executions are fresh)."""
    run = subprocess.run([sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "executing" not in run.stdout, f"{module} re-executed a notebook:\n{run.stdout}"
    return run.stdout


# Pages without math load no MathJax; on the others, wait until MathJax 2 has typeset everything.
MATH_DONE = ("() => !document.querySelector('script[src*=\"MathJax.js\"]') || (window.MathJax && MathJax.Hub"
             " && MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running"
             " && document.querySelectorAll('.MathJax_Preview + .MathJax, .MathJax_Display, .MathJax').length > 0)")


def _image_outputs(nb):
    return sum(1 for c in nb.cells for out in c.get("outputs", []) if "image/png" in out.get("data", {}))


@pytest.mark.slow
def test_the_site_has_every_page_figure_and_formula_offline(executed_notebooks, chromium_path, serve, tmp_path):
    """`make book`'s site in Chromium: every page of the course has its figures (loaded), its
    math typeset, no error output, no broken internal link, and needs no other host."""
    from playwright.sync_api import sync_playwright

    _entry_point("course.book")
    site = ROOT / "build" / "book"
    base = serve(site)
    pages = ["index.html"] + [f"notebooks/{p.stem}.html" for p in NOTEBOOKS]
    pages += [f"docs/{p.stem}.html" for p in sorted((ROOT / "docs").glob("*.md"))]
    blocked, links = [], set()
    with sync_playwright() as p:
        browser = _browser(p, chromium_path)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        _local_only(context, base, blocked)
        page = context.new_page()
        for name in pages:
            response = page.goto(f"{base}/{name}", wait_until="load")
            assert response.ok, name
            page.wait_for_function(MATH_DONE, timeout=60_000)
            images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
            assert all(width > 0 for _, width in images), (name, [s for s, w in images if not w])
            errors = page.locator(".output.stderr, .output.traceback, .output.error").count()
            assert errors == 0, f"{name}: {errors} error outputs"
            assert "Math Processing Error" not in page.content() and page.locator(".MathJax_Error").count() == 0, name
            if name.startswith("notebooks/"):
                nb = executed_notebooks[ROOT / name.replace(".html", ".ipynb")]
                figures = page.locator(".cell_output img").count()
                assert figures >= _image_outputs(nb) > 0, (name, figures, _image_outputs(nb))
                assert page.locator(".MathJax_CHTML, .MathJax").count() > 0, f"{name}: no typeset math"
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                if href.startswith(base):
                    links.add(href)
        broken = []
        for href in sorted(links):
            url, _, fragment = href.partition("#")
            response = context.request.get(url)
            if not response.ok:
                broken.append(href)
            elif fragment and url.endswith(".html"):
                ids_here = set(re.findall(r'id="([^"]+)"', response.text()))
                if urllib.parse.unquote(fragment) not in ids_here:
                    broken.append(href)
        assert not broken, broken
        assert not blocked, f"requests to other hosts: {blocked}"

        # The README's picture: the first section about a live explorer (a widget shown as its PNG).
        target = next((p for p in NOTEBOOKS if re.search(r'"## [^"]*explorer', p.read_text(), re.I)), NOTEBOOKS[0])
        page.goto(f"{base}/notebooks/{target.stem}.html", wait_until="load")
        page.wait_for_function(MATH_DONE, timeout=60_000)
        heading = page.locator("h2", has_text=re.compile("explorer", re.I))
        if heading.count():
            heading.first.evaluate("h => h.scrollIntoView()")
        page.wait_for_timeout(500)
        shot = ROOT / "docs/screenshot_site.png" if os.environ.get("ENOT_UPDATE_SCREENSHOT") == "1" else tmp_path / "site.png"
        page.screenshot(path=str(shot))
        browser.close()


@pytest.mark.slow
def test_the_slides_load_offline(executed_notebooks, chromium_path, serve):
    """`make slides`: one reveal.js deck per notebook, every script and style sheet local, and each
    deck starts in Chromium with no request to another host."""
    from playwright.sync_api import sync_playwright

    _entry_point("course.slides")
    out = ROOT / "build" / "slides"
    decks = [out / f"{p.stem}.slides.html" for p in NOTEBOOKS]
    for deck in decks:
        html = deck.read_text()
        remote = re.findall(r"<(?:script|link)[^>]*(?:src|href)=[\"']?(?:https?:)?//[^>]*>", html)
        remote += re.findall(r"import [^;]*from\s*['\"]https?://", html)
        assert not remote, (deck.name, remote)
    base = serve(out)
    blocked = []
    with sync_playwright() as p:
        browser = _browser(p, chromium_path)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        _local_only(context, base, blocked)
        page = context.new_page()
        for path, deck in zip(NOTEBOOKS, decks):
            page.goto(f"{base}/{deck.name}", wait_until="load")
            page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
            headings = sum(slides.slide_type(c) == "slide" for c in executed_notebooks[path].cells)
            assert page.evaluate("Reveal.getHorizontalSlides().length") == headings, deck.name
            assert page.locator(".reveal img").count() > 0, deck.name
        assert not blocked, f"requests to other hosts: {blocked}"
        browser.close()


def test_the_make_targets_call_the_course_tools():
    makefile = (ROOT / "Makefile").read_text()
    for target, module in (("book", "course.book"), ("student", "course.student"), ("slides", "course.slides")):
        assert re.search(rf"^{target}: .*\n\t\$\(PY\) -m {re.escape(module)}", makefile, re.M), target
    readme = (ROOT / "README.md").read_text()
    teaching = readme[readme.index("## Teaching with enot_lite"):]
    teaching = teaching[: teaching.index("\n## ")]
    for needed in ("make book", "make student", "make slides", "docs/screenshot_site.png", "build/student",
                   f"`{cells.SOLUTION}`", f"`{cells.CHECK}`", cells.BEGIN, cells.END, cells.NOT_DONE):
        assert needed in teaching, needed
    assert (ROOT / "docs/screenshot_site.png").stat().st_size > 50_000
