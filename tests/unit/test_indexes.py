"""Every Firestore query in shared/ and functions/ has the index it needs in firestore.indexes.json.

The emulator serves any query without an index; production answers FAILED_PRECONDITION. So the
queries are found in the source (AST): chains of ``.where(...)``/``.order_by(...)`` on
``db.collection(...)``/``.collection_group(...)``, also built up step by step in a variable
(``query = query.where(...)`` under ``if``s: the union of every filter is checked, the worst
case). Firestore's rules for what needs more than its automatic single-field indexes:

* a collection query over two or more fields needs a composite index, except equality filters
  alone (``==``, ``in``), which Firestore serves by merging single-field indexes;
* a collection group query over any field needs an index with collection-group scope: a
  single-field override (``fieldOverrides``) for one field, a composite one for more.

A query whose collection or fields cannot be read from the source fails the test: write them as
literals or module constants. A declared composite index no query uses fails it too.
"""

from __future__ import annotations

import ast
import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("shared", "functions")
INDEXES = json.loads((ROOT / "firestore.indexes.json").read_text(encoding="utf-8"))
EQUALITY = {"==", "in"}
ARRAY = {"array_contains", "array_contains_any", "array-contains", "array-contains-any"}
INEQUALITY = {"<", "<=", ">", ">=", "!=", "not-in", "not_in"}
OPS = EQUALITY | ARRAY | INEQUALITY
ASC, DESC = "ASCENDING", "DESCENDING"


@dataclass
class Query:
    where: str  # path:line
    collection: str | None = None
    group: bool = False
    filters: list[tuple[str, str]] = field(default_factory=list)
    orders: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Need:
    """What a query needs: ``fields`` in index order as (field, ASCENDING|DESCENDING|CONTAINS);
    ``equal`` how many leading fields are equality or array filters (any order among them)."""

    collection: str
    group: bool
    fields: tuple[tuple[str, str], ...]
    equal: int

    def __str__(self) -> str:
        scope = "collection group" if self.group else "collection"
        return f"{scope} {self.collection}: {', '.join(f'{f} {m}' for f, m in self.fields)}"


# --- finding the queries -------------------------------------------------------------------------


def module_constants(files: list[Path]) -> dict[str, str]:
    """Module-level ``NAME = "text"`` of every scanned file (a name with two values is dropped)."""
    seen: dict[str, set[str]] = {}
    for path in files:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and isinstance(node.value.value, str):
                        seen.setdefault(t.id, set()).add(node.value.value)
    return {name: values.pop() for name, values in seen.items() if len(values) == 1}


class Scanner:
    def __init__(self, constants: dict[str, str]) -> None:
        self.constants = constants

    def text(self, node: ast.AST | None, scope: dict[str, list[ast.expr]]) -> str | None:
        """A string literal, a constant (``NAME``, ``module.NAME``), or a variable set to one."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Attribute):
            return self.constants.get(node.attr)
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return self.constants[node.id]
            values = {self.text(v, {}) for v in scope.get(node.id, [])}
            return values.pop() if len(values) == 1 else None
        if isinstance(node, ast.JoinedStr) and node.values:  # f"{SESSIONS}/{sid}/laps": its last segment
            last = node.values[-1]
            if isinstance(last, ast.Constant) and "/" in str(last.value):
                return str(last.value).rsplit("/", 1)[1]
            if isinstance(last, ast.FormattedValue):
                return self.text(last.value, scope)
        return None

    def scan(self, tree: ast.Module, path: str) -> list[Query]:
        out: list[Query] = []
        scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))]
        for scope_node in scopes:
            out += self._scan_scope(scope_node, path)
        return out

    def _scan_scope(self, scope_node: ast.AST, path: str) -> list[Query]:
        body = list(_own_nodes(scope_node))
        scope: dict[str, list[ast.expr]] = {}
        for node in body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                scope.setdefault(node.targets[0].id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
                scope.setdefault(node.target.id, []).append(node.value)
        queries: dict[str, Query] = {}
        assigned = {id(v): name for name, values in scope.items() for v in values}
        for node in body:
            if not (isinstance(node, ast.Call) and self._firestore_op(node, scope)):
                continue
            top = _outermost(node, body)
            key = assigned.get(id(top))
            if key is not None:  # a query built in a variable: one query, every step's filters
                query = self.evaluate(ast.Name(id=key), scope, f"{path}:{node.lineno}")
                queries.setdefault(f"var:{key}", query)
            else:
                queries.setdefault(f"expr:{id(top)}", self.evaluate(top, scope, f"{path}:{node.lineno}"))
        return list(queries.values())

    def _firestore_op(self, call: ast.Call, scope: dict[str, list[ast.expr]]) -> bool:
        """``.where`` with ``filter=`` or a Firestore operator; ``.order_by("field")`` (not np.where)."""
        if not isinstance(call.func, ast.Attribute):
            return False
        if call.func.attr == "where":
            kwargs = {k.arg for k in call.keywords}
            return bool(kwargs & {"filter", "field_path"}) or (
                len(call.args) == 3 and self.text(call.args[1], scope) in OPS
            )
        return call.func.attr == "order_by"

    def evaluate(self, expr: ast.expr, scope: dict[str, list[ast.expr]], where: str, depth: int = 0) -> Query:
        query = Query(where)
        root, steps = _chain(expr)
        if isinstance(root, ast.Name) and root.id in scope and depth < 5:
            # Every assignment to the variable: the ones starting elsewhere give the collection,
            # the ones extending the variable itself add their filters.
            for value in scope[root.id]:
                vroot, vsteps = _chain(value)
                if isinstance(vroot, ast.Name) and vroot.id == root.id:
                    self._apply(query, vsteps, scope)
                else:
                    base = self.evaluate(value, {**scope, root.id: []}, where, depth + 1)
                    query.collection = query.collection or base.collection
                    query.group = query.group or base.group
                    query.filters += base.filters
                    query.orders += base.orders
                    query.problems += base.problems
        self._apply(query, steps, scope)
        return query

    def _apply(self, query: Query, steps: list[ast.Call], scope: dict[str, list[ast.expr]]) -> None:
        for call in steps:
            name = call.func.attr if isinstance(call.func, ast.Attribute) else ""
            if name in ("collection", "collection_group"):
                query.collection = self.text(call.args[0], scope) if call.args else None
                query.group = name == "collection_group"
                query.filters, query.orders = [], []
            elif name == "where" and self._firestore_op(call, scope):
                self._where(query, call, scope)
            elif name == "order_by":
                self._order_by(query, call, scope)

    def _where(self, query: Query, call: ast.Call, scope: dict[str, list[ast.expr]]) -> None:
        kwargs = {k.arg: k.value for k in call.keywords}
        if "filter" in kwargs:
            self._filter(query, kwargs["filter"], scope)
        elif "field_path" in kwargs:
            self._pair(query, kwargs["field_path"], kwargs.get("op_string"), scope)
        else:
            self._pair(query, call.args[0], call.args[1], scope)

    def _filter(self, query: Query, node: ast.expr, scope: dict[str, list[ast.expr]]) -> None:
        if isinstance(node, ast.Name) and len(scope.get(node.id, [])) == 1:
            node = scope[node.id][0]
        if isinstance(node, ast.Call):
            fname = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if fname.endswith("FieldFilter") and len(node.args) >= 2:
                self._pair(query, node.args[0], node.args[1], scope)
                return
            if fname in ("And", "Or") and node.args and isinstance(node.args[0], ast.List | ast.Tuple):
                for element in node.args[0].elts:
                    self._filter(query, element, scope)
                return
        query.problems.append(f"cannot read the filter {ast.unparse(node)}")

    def _pair(
        self, query: Query, fnode: ast.expr, opnode: ast.expr | None, scope: dict[str, list[ast.expr]]
    ) -> None:
        fname, op = self.text(fnode, scope), self.text(opnode, scope)
        if fname is None or op not in OPS:
            query.problems.append(f"cannot read the field or operator of {ast.unparse(fnode)}")
            return
        query.filters.append((fname, op))

    def _order_by(self, query: Query, call: ast.Call, scope: dict[str, list[ast.expr]]) -> None:
        fname = self.text(call.args[0], scope) if call.args else None
        if fname is None:
            query.problems.append("cannot read an order_by field")
            return
        direction = next((k.value for k in call.keywords if k.arg == "direction"), None)
        if direction is None and len(call.args) > 1:
            direction = call.args[1]
        desc = direction is not None and "DESC" in ast.unparse(direction).upper()
        query.orders.append((fname, DESC if desc else ASC))


def _own_nodes(scope_node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function (or module) body, not those of functions nested in it."""
    found: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(scope_node))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        found.append(node)
        todo += list(ast.iter_child_nodes(node))
    yield from sorted(found, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))


def _outermost(call: ast.Call, body: list[ast.AST]) -> ast.expr:
    """The whole method chain ``call`` is part of (``a.where(...).order_by(...).stream()``)."""
    parents = {id(child): node for node in body for child in ast.iter_child_nodes(node)}
    node: ast.expr = call
    while True:
        attr = parents.get(id(node))
        outer = parents.get(id(attr)) if isinstance(attr, ast.Attribute) else None
        if isinstance(outer, ast.Call) and outer.func is attr:
            node = outer
        else:
            return node


def _chain(expr: ast.expr) -> tuple[ast.expr, list[ast.Call]]:
    """``root`` and the method calls applied to it, innermost first."""
    steps: list[ast.Call] = []
    node = expr
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        steps.append(node)
        node = node.func.value
    return node, steps[::-1]


def find_queries(files: list[Path], constants: dict[str, str] | None = None) -> list[Query]:
    scanner = Scanner(constants if constants is not None else module_constants(files))
    out: list[Query] = []
    for path in files:
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        out += scanner.scan(ast.parse(path.read_text(encoding="utf-8")), str(rel))
    return out


# --- what each query needs, what the file declares ------------------------------------------------


def need_of(q: Query) -> Need | None:
    """The index ``q`` needs beyond Firestore's automatic ones (None: it has them)."""
    equal = sorted({f for f, op in q.filters if op in EQUALITY})
    arrays = sorted({f for f, op in q.filters if op in ARRAY})
    orders = [(f, d) for f, d in q.orders if f != "__name__" and f not in equal]
    ordered = [f for f, _ in orders]
    orders += [(f, ASC) for f in sorted({f for f, op in q.filters if op in INEQUALITY}) if f not in ordered]
    fields = (*((f, ASC) for f in equal), *((f, "CONTAINS") for f in arrays), *orders)
    names = {f for f, _ in fields}
    if not names or q.collection is None:
        return None
    if not q.group and (len(names) == 1 or (not orders and not arrays)):
        return None  # automatic single-field indexes (merged for equalities)
    return Need(q.collection, q.group, tuple(fields), len(equal) + len(arrays))


def _fields(index: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f["fieldPath"], f.get("order") or f.get("arrayConfig", ""))
        for f in index["fields"]
        if f["fieldPath"] != "__name__"
    ]


def served_by(need: Need, index: dict[str, Any]) -> bool:
    scope = "COLLECTION_GROUP" if need.group else "COLLECTION"
    if index.get("collectionGroup") != need.collection or index.get("queryScope", "COLLECTION") != scope:
        return False
    have = _fields(index)
    head, tail = have[: need.equal], have[need.equal :]
    want_head, want_tail = need.fields[: need.equal], list(need.fields[need.equal :])
    flipped = [(f, DESC if d == ASC else ASC) for f, d in want_tail]
    same_head = {(f, m if m == "CONTAINS" else "=") for f, m in head} == {
        (f, m if m == "CONTAINS" else "=") for f, m in want_head
    }
    return same_head and len(head) == len(want_head) and tail in (want_tail, flipped)


def declared_for(need: Need, indexes: dict[str, Any]) -> bool:
    if len(need.fields) == 1 and need.group:  # a collection-group single-field override
        (fname, mode), key = need.fields[0], "arrayConfig" if need.fields[0][1] == "CONTAINS" else "order"
        return any(
            o["collectionGroup"] == need.collection and o["fieldPath"] == fname
            and {"queryScope": "COLLECTION_GROUP", key: mode} in o.get("indexes", [])
            for o in indexes.get("fieldOverrides", [])
        )  # fmt: skip
    return any(served_by(need, index) for index in indexes.get("indexes", []))


def scanned_files() -> list[Path]:
    return sorted(p for top in SCANNED for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)


QUERIES = find_queries(scanned_files())


# --- the checks ----------------------------------------------------------------------------------


def problems(q: Query) -> list[str]:
    """What keeps ``q`` from being checked; an unknown collection only matters when the query would
    need an index in any collection (``db.collection(name)`` with ``name`` a parameter is fine for
    an equality filter)."""
    unknown = q.collection is None and need_of(Query(q.where, "?", q.group, q.filters, q.orders)) is not None
    return q.problems + (
        ["cannot tell the collection (use a literal or a module constant)"] if unknown else []
    )


def test_every_query_is_read_whole() -> None:
    unreadable = [f"{q.where}: {p}" for q in QUERIES for p in problems(q)]
    assert unreadable == [], "queries the index check cannot read:\n" + "\n".join(unreadable)


def test_every_query_has_its_index_declared() -> None:
    missing = [
        f"{q.where}: {need}" for q in QUERIES if (need := need_of(q)) and not declared_for(need, INDEXES)
    ]
    assert missing == [], "add to firestore.indexes.json:\n" + "\n".join(missing)


def test_no_declared_composite_index_is_unused() -> None:
    needs = [n for q in QUERIES if (n := need_of(q))]
    unused = [ix for ix in INDEXES["indexes"] if not any(served_by(n, ix) for n in needs)]
    assert unused == [], f"indexes no query needs (each costs writes): {unused}"


def test_the_scan_finds_the_known_queries() -> None:
    found = {(q.collection, q.group, tuple(q.filters), tuple(q.orders)) for q in QUERIES}
    assert ("sessions", False, (("start_utc", ">="),), (("start_utc", ASC),)) in found  # the current session
    assert ("laps", False, (("driver_number", "=="), ("lap_number", "==")), ()) in found  # optional filters
    assert ("meetings", False, (("year", "=="),), ()) in found
    assert len(QUERIES) >= 6


# --- the rules, on small examples ----------------------------------------------------------------


def scan(code: str) -> list[Query]:
    return Scanner({"SESSIONS": "sessions", "SUBS": "subscriptions"}).scan(
        ast.parse(textwrap.dedent(code)), "x.py"
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            'db.collection("a").where(filter=FieldFilter("x", "==", 1))'
            '.where(filter=FieldFilter("y", "==", 2))',
            None,
        ),
        ('db.collection("a").where(filter=FieldFilter("t", ">=", 1)).order_by("t")', None),
        ('db.collection("a").order_by("t", direction=firestore.Query.DESCENDING).limit(1)', None),
        (
            'db.collection("a").where("x", "==", 1).where("t", "<", 5)',
            "collection a: x ASCENDING, t ASCENDING",
        ),
        (
            'db.collection("a").where(filter=FieldFilter("x", "in", [1]))'
            '.order_by("t", direction="DESCENDING")',
            "collection a: x ASCENDING, t DESCENDING",
        ),
        ('db.collection("a").order_by("t").order_by("u")', "collection a: t ASCENDING, u ASCENDING"),
        (
            'db.collection(f"{SESSIONS}/{sid}/laps").where(filter=FieldFilter("n", "==", 1)).order_by("t")',
            "collection laps: n ASCENDING, t ASCENDING",
        ),
        (
            'db.collection_group(SUBS).where(filter=FieldFilter("topics", "array_contains_any", v))',
            "collection group subscriptions: topics CONTAINS",
        ),
        (
            'db.collection_group("b")'
            '.where(filter=And([FieldFilter("x", "==", 1), FieldFilter("y", ">", 2)]))',
            "collection group b: x ASCENDING, y ASCENDING",
        ),
    ],
)
def test_what_needs_an_index(code: str, expected: str | None) -> None:
    (query,) = scan(f"def f(db, sid, v):\n    return {code}.stream()\n")
    assert query.problems == []
    need = need_of(query)
    assert (str(need) if need else None) == expected


def test_a_query_built_in_steps_is_checked_with_every_filter() -> None:
    (query,) = scan(
        """
        def f(db, driver, lap):
            query = db.collection(SESSIONS)
            if driver:
                query = query.where(filter=FieldFilter("driver", "==", driver))
            if lap:
                query = query.order_by("lap")
            return list(query.stream())
        """
    )
    assert (
        query.collection == "sessions"
        and query.filters == [("driver", "==")]
        and query.orders == [("lap", ASC)]
    )
    need = need_of(query)
    assert need is not None and str(need) == "collection sessions: driver ASCENDING, lap ASCENDING"
    assert not declared_for(need, {"indexes": []})
    driver, lap = {"fieldPath": "driver", "order": ASC}, {"fieldPath": "lap", "order": ASC}
    index = {"collectionGroup": "sessions", "queryScope": "COLLECTION", "fields": [lap, driver]}
    assert not declared_for(need, {"indexes": [index]})  # the ordered field must come last
    assert declared_for(need, {"indexes": [index | {"fields": [driver, lap]}]})
    reverse = index | {"fields": [driver, lap | {"order": DESC}]}
    assert declared_for(need, {"indexes": [reverse]})  # an index serves its reverse order too
    assert not declared_for(need, {"indexes": [reverse | {"queryScope": "COLLECTION_GROUP"}]})


def test_unreadable_queries_are_reported_and_numpy_is_not_a_query() -> None:
    unknown_collection, unknown_field, equality_anywhere = scan(
        """
        def f(db, name, field):
            a = db.collection(name).where(filter=FieldFilter("x", "==", 1)).order_by("t")
            b = db.collection("c").where(filter=FieldFilter(field, "==", 1))
            c = db.collection(name).where(filter=FieldFilter("year", "==", 1))
            d = np.where(mask, x, y)
            return a, b, c, d
        """
    )
    assert any("collection" in p for p in problems(unknown_collection))
    assert any("field" in p for p in problems(unknown_field))
    assert problems(equality_anywhere) == []  # no index needed, whichever the collection


def test_collection_group_single_field_needs_an_override() -> None:
    (query,) = scan(
        'def f(db):\n    return db.collection_group("subs").where(filter=FieldFilter("uid", "==", 1))\n'
    )
    need = need_of(query)
    assert need is not None
    override = {"collectionGroup": "subs", "fieldPath": "uid",
                "indexes": [{"order": "ASCENDING", "queryScope": "COLLECTION_GROUP"}]}  # fmt: skip
    assert declared_for(need, {"fieldOverrides": [override]})
    assert not declared_for(need, {"fieldOverrides": [override | {"fieldPath": "other"}]})
