"""The one paginator of OpenAI-style lists: `after=<id>&limit=N` over a total order, as a keyset.

A list is ordered by `keys` (columns whose last one is unique, e.g. created_at then id), ascending or
descending. `after` names the last object the client has seen: its keys are looked up within the same
scope (an id from another project or list is an unknown cursor, a 400 naming `after`), and the page
is the next `limit` rows past them, fetched with one row more to tell `has_more`. No offsets, so a
page stays right while rows are added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from openrft.errors import InvalidRequest


def keyset_page(
    conn: sa.Connection,
    table: sa.Table,
    scope: Sequence[sa.ColumnElement[bool]],
    *,
    keys: Sequence[sa.Column[Any]],
    id_column: sa.Column[Any],
    after: str | None,
    limit: int,
    descending: bool = False,
    unknown_after: str,
    keep: Callable[[sa.Row[Any]], bool] | None = None,
) -> tuple[list[sa.Row[Any]], bool]:
    """(up to `limit` rows after the cursor, has_more). `keep` filters rows SQL cannot (read until enough)."""
    query = sa.select(table).where(*scope)
    if after:
        cursor = conn.execute(sa.select(*keys).where(*scope, id_column == after)).first()
        if cursor is None:
            raise InvalidRequest(unknown_after, param="after")
        beyond = sa.tuple_(*keys) < tuple(cursor) if descending else sa.tuple_(*keys) > tuple(cursor)
        query = query.where(beyond)
    query = query.order_by(*[k.desc() for k in keys] if descending else keys)
    if keep is None:
        rows = conn.execute(query.limit(limit + 1)).all()
    else:
        rows = []
        for row in conn.execute(query):
            if keep(row):
                rows.append(row)
                if len(rows) > limit:
                    break
    return list(rows[:limit]), len(rows) > limit
