"""How an exercise is marked, what the student edition makes of it, and a static check that it runs.

One marking: a code cell tagged `solution` is an exercise's answer, collapsed in the full
edition (`metadata.jupyter.source_hidden`).  The student edition replaces the whole cell by a
placeholder that raises ``NotImplementedError("exercise not done yet")``; if the cell has
nbgrader's delimiters, only the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
are replaced and the lines around them (starter code) stay.  A cell tagged `check` tests an
answer; it stays in the student edition, where it may fail until the exercise is done.
Every other cell is the same in both editions, so no other cell may use a name that only a
solution defines (`solution_leaks`).
"""
from __future__ import annotations

import copy
import symtable

SOLUTION, CHECK = "solution", "check"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
NOT_DONE = "exercise not done yet"
PLACEHOLDER = f'# YOUR CODE HERE (the exercise is in the cell above)\nraise NotImplementedError("{NOT_DONE}")'


def tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def is_solution(cell) -> bool:
    return cell["cell_type"] == "code" and SOLUTION in tags(cell)


def is_check(cell) -> bool:
    return cell["cell_type"] == "code" and CHECK in tags(cell)


def student_source(source: str) -> str:
    """A solution cell's source in the student edition (see the module docstring)."""
    if BEGIN not in source and END not in source:
        return PLACEHOLDER
    out, inside = [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN!r}")
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + row for row in PLACEHOLDER.splitlines()]
            inside = True
        elif marker == END:
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r}")
    return "\n".join(out)


def student_edition(nb):
    """A copy of `nb` with every solution replaced by its placeholder (expanded, no outputs) and
    the outputs of check cells cleared; every other cell untouched."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if is_solution(cell):
            cell.source = student_source(cell.source)
            jupyter = cell.metadata.get("jupyter", {})
            jupyter.pop("source_hidden", None)
            jupyter.pop("outputs_hidden", None)
            if not jupyter:
                cell.metadata.pop("jupyter", None)
        if is_solution(cell) or is_check(cell):
            cell.outputs, cell.execution_count = [], None
    return nb


def python_source(source: str) -> str:
    """A cell's source as plain Python (IPython magics become calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def names(source: str) -> tuple[set[str], set[str]]:
    """(names the cell binds at top level, names it reads from outside itself)."""
    table = symtable.symtable(python_source(source), "<cell>", "exec")
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    used: set[str] = set()

    def visit(t, top):
        for s in t.get_symbols():
            if s.is_referenced() and (top or s.is_global()):
                used.add(s.get_name())
        for child in t.get_children():
            visit(child, False)

    visit(table, True)
    return bound, used - bound


def solution_leaks(nb) -> list[tuple[int, list[str]]]:
    """Cells that read a name last bound by a solution: [(cell index, names)].

    In the student edition such a cell would fail (or see another value), so the edition would
    not run top to bottom with only "exercise not done yet" errors.  Check cells may read them;
    starter code kept in a solution cell may not."""
    from_solutions: set[str] = set()
    leaks = []
    for index, cell in enumerate(nb.cells):
        if cell["cell_type"] != "code" or is_check(cell):
            continue
        source = student_source(cell.source) if is_solution(cell) else cell.source
        bound, used = names(source)
        if hit := used & from_solutions:
            leaks.append((index, sorted(hit)))
        from_solutions -= bound  # bound in both editions from here on
        if is_solution(cell):
            from_solutions |= names(cell.source)[0] - bound
    return leaks
