"""Two eval runs side by side: each criterion's pass rate in both, and the items item by item.

One definition shared by `openrft evals compare` (the CLI) and the console's compare page. Criteria are
matched by name (the part of OpenAI's `<name>-<uuid4>` criterion id before the uuid), so two evals
with the same criteria compare too; items are matched by `datasource_item_id`. Pure functions over the
API's wire shapes (dicts), no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

UUID_SUFFIX = 37  # "-" + a uuid4's 36 characters: a criterion id is "<name>-<uuid4>"


def criterion_name(criterion_id: str) -> str:
    """`exact-1b9d...` -> `exact`: the name inside OpenAI's criterion id."""
    return criterion_id[:-UUID_SUFFIX] if len(criterion_id) > UUID_SUFFIX else criterion_id


def rate_text(counts: tuple[int, int] | None, none: str = "-") -> str:
    """(passed, graded) -> '75.0% (3/4)'; `none` where nothing was graded."""
    if counts is None:
        return none
    passed, total = counts
    return f"{passed / total:.1%} ({passed}/{total})" if total else f"{none} (0/0)"


def pass_rates(per_testing_criteria_results: Sequence[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """Criterion name -> (passed, graded) from a run's per_testing_criteria_results."""
    out: dict[str, tuple[int, int]] = {}
    for entry in per_testing_criteria_results:
        passed, failed = int(entry["passed"]), int(entry["failed"])
        out[criterion_name(str(entry["testing_criteria"]))] = (passed, passed + failed)
    return out


def changed_items(
    items_a: Sequence[Mapping[str, Any]], items_b: Sequence[Mapping[str, Any]]
) -> list[tuple[int, str | None, str | None]]:
    """(datasource_item_id, status in A, status in B) of every item whose status differs (None: absent)."""
    return [(p.datasource_item_id, p.status_a, p.status_b) for p in paired_items(items_a, items_b) if p.changed]


@dataclass(frozen=True)
class ItemPair:
    """One data-source item in both runs (None where a run does not hold it)."""

    datasource_item_id: int
    a: Mapping[str, Any] | None
    b: Mapping[str, Any] | None

    @property
    def status_a(self) -> str | None:
        return None if self.a is None else str(self.a["status"])

    @property
    def status_b(self) -> str | None:
        return None if self.b is None else str(self.b["status"])

    @property
    def changed(self) -> bool:
        return self.status_a != self.status_b


def paired_items(items_a: Sequence[Mapping[str, Any]], items_b: Sequence[Mapping[str, Any]]) -> list[ItemPair]:
    """Every item of either run, by datasource_item_id."""
    a = {int(i["datasource_item_id"]): i for i in items_a}
    b = {int(i["datasource_item_id"]): i for i in items_b}
    return [ItemPair(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b))]


def changed_first(pairs: Sequence[ItemPair]) -> list[ItemPair]:
    """The items whose outcome changed, then the others, each part in data-source order."""
    return [p for p in pairs if p.changed] + [p for p in pairs if not p.changed]


def criteria_side_by_side(
    per_a: Sequence[Mapping[str, Any]], per_b: Sequence[Mapping[str, Any]]
) -> list[tuple[str, tuple[int, int] | None, tuple[int, int] | None]]:
    """(criterion name, (passed, graded) in A, in B) for every criterion of either run, A's order first."""
    rates_a, rates_b = pass_rates(per_a), pass_rates(per_b)
    names = list(dict.fromkeys([*rates_a, *rates_b]))
    return [(name, rates_a.get(name), rates_b.get(name)) for name in names]
