"""Splitting long lists into pages (``?page=N``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import request
from sqlalchemy import Select, func, select

from ..extensions import db

T = TypeVar("T")
PER_PAGE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    pages: int
    total: int

    def args(self, number: int) -> dict[str, Any]:
        """The current query string with another page number, for links."""
        values = {k: v for k, v in request.args.items() if k != "page"}
        return {**values, "page": number}


def paginate(query: Select[Any], per_page: int = PER_PAGE) -> Page[Any]:
    total = int(db.session.scalar(select(func.count()).select_from(
        query.order_by(None).subquery())) or 0)
    pages = max(1, -(-total // per_page))
    number = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    items = list(db.session.scalars(query.limit(per_page).offset((number - 1) * per_page))
                 .unique().all())
    return Page(items, number, pages, total)
