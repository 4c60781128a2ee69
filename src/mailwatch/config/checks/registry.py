"""Every check kind, one line each, and the ``[checks]`` section built from them.

Adding a kind: write its declaration module here (config model, stages, severity rules, key
figures, ``KIND``), its probe under ``mailwatch.probes``, and add ``KIND`` to ``KINDS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import GenericAlias
from typing import TYPE_CHECKING, Any

from pydantic import Field, create_model

from mailwatch.config.base import StrictModel
from mailwatch.config.checks import dnsbl, mx, queue, resources, roundtrip, service, tls
from mailwatch.config.checks.base import CheckBase, CheckKind

KINDS: tuple[CheckKind, ...] = (
    roundtrip.KIND,
    resources.KIND,
    service.KIND,
    mx.KIND,
    dnsbl.KIND,
    tls.KIND,
    queue.KIND,
)
"""In this order the checks are listed, validated and run."""

_BY_NAME = {kind.name: kind for kind in KINDS}


def kind_named(name: str) -> CheckKind:
    """The kind called ``name``; ``KeyError`` for a kind nobody registered."""
    return _BY_NAME[name]


class CheckLists(StrictModel):
    """Checks by kind: ``[[checks.roundtrip]]``, ``[[checks.mx]]``, ...

    The fields, one list per kind, are added from ``KINDS`` (see ``ChecksConfig``); iterating
    gives every check, kind by kind.
    """

    def __iter__(self) -> Iterator[CheckBase]:  # type: ignore[override]
        for name in type(self).model_fields:
            yield from getattr(self, name)


def _checks_model() -> type[CheckLists]:
    fields: dict[str, Any] = {
        kind.name: (GenericAlias(list, (kind.config,)), Field(default_factory=list))
        for kind in KINDS
    }
    return create_model(
        "ChecksConfig",
        __base__=CheckLists,
        __module__=__name__,
        __doc__=CheckLists.__doc__.split("\n", 1)[0] if CheckLists.__doc__ else None,
        **fields,
    )


if TYPE_CHECKING:
    ChecksConfig = CheckLists
else:
    ChecksConfig = _checks_model()
    """The ``[checks]`` section: a list field per kind of ``KINDS``, in that order."""
