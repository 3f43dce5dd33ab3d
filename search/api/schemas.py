"""The API's request and response shapes as pydantic models, for validation and ``/openapi.json``.

The responses are the engine's and the library's own ``to_json()`` output; the models of the
typed values behind them (``Hit``, ``Filters``, ...) are made from their dataclass fields by
:func:`model_of`, so a field added to a dataclass appears in the schema without a second list
here. Tests validate real responses against these models (``extra="forbid"``), so the schema
cannot drift from what is sent.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from search.types import MODES, SORTS, Filters

_MADE: dict[type, type[BaseModel]] = {}
_STRICT = ConfigDict(extra="forbid")
_OPEN = ConfigDict(extra="allow")


def _field_type(hint: Any) -> Any:
    """A dataclass field's type as pydantic reads the JSON of it: tuples are lists, nested
    dataclasses are their models."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return model_of(hint)
    if origin is tuple:
        inner = args[0] if args else Any
        return list[_field_type(inner)]  # type: ignore[misc]
    if origin in (Union, types.UnionType):
        converted = tuple(_field_type(a) for a in args)
        return Union[converted]  # noqa: UP007 - built from a tuple
    if origin is Literal:
        return hint
    if origin is dict:
        return dict[_field_type(args[0]), _field_type(args[1])] if args else dict  # type: ignore[misc]
    return hint


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return list(f.default) if isinstance(f.default, tuple) else f.default
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return list(value) if isinstance(value, tuple) else value
    return ...


def model_of(cls: type, *, extra: dict[str, Any] | None = None, name: str | None = None,
             defaults: bool = False) -> type[BaseModel]:
    """A pydantic model with the fields of dataclass ``cls`` (and ``extra``: name -> type); every
    field required (a response), or with ``defaults`` the dataclass's defaults (a request)."""
    key = cls if extra is None and name is None and not defaults else None
    if key is not None and key in _MADE:
        return _MADE[key]
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {f.name: (_field_type(hints[f.name]), _default(f) if defaults else ...)
                              for f in dataclasses.fields(cls)}
    fields.update({k: (t, ...) for k, t in (extra or {}).items()})
    model = create_model(name or cls.__name__, __config__=_STRICT, **fields)
    if key is not None:
        _MADE[key] = model
    return model


def _models() -> dict[str, type[BaseModel]]:
    from search.index.freshness import IndexStatus
    from search.types import Facets, Hit

    hit = model_of(Hit, extra={"authors_short": str, "retracted_by": list[str], "errata": list[str]})
    return {"Hit": hit, "Filters": model_of(Filters), "Facets": model_of(Facets),
            "IndexStatus": model_of(IndexStatus, extra={"message": str})}


_M = _models()
HitModel = _M["Hit"]
FiltersModel = _M["Filters"]
FacetsModel = _M["Facets"]
IndexStatusModel = _M["IndexStatus"]


class SearchResponse(BaseModel):
    """``SearchResults.to_json()``, with the facets and the query's reading when asked for."""

    model_config = _STRICT
    did_you_mean: str
    query: str
    mode: str
    snapshot: str
    documents: int
    filters: FiltersModel  # type: ignore[valid-type]
    free_text: str
    restriction: str
    candidates: int
    total: int
    offset: int
    sort: str
    timings_ms: dict[str, float]
    warnings: list[str]
    hits: list[HitModel]  # type: ignore[valid-type]
    facets: FacetsModel | None = None  # type: ignore[valid-type]
    explanation: str | None = Field(None, description="How the query was read (with explain=true).")


class SimilarResponse(BaseModel):
    model_config = _STRICT
    source: HitModel  # type: ignore[valid-type]
    query: str
    snapshot: str
    documents: int
    candidates: int
    timings_ms: dict[str, float]
    warnings: list[str]
    hits: list[HitModel]  # type: ignore[valid-type]


class Health(BaseModel):
    model_config = _STRICT
    status: Literal["ok"]


class StatusResponse(BaseModel):
    model_config = _STRICT
    records: int = Field(description="Records in the index snapshot that answers searches.")
    snapshot: str
    index: IndexStatusModel  # type: ignore[valid-type]
    mode: str = Field(description="The default search mode.")
    models: dict[str, str]
    version: str


# -- the library ------------------------------------------------------------------------------------

#: Filters of a saved search or a summary's search (``search.types.Filters``; see ``GET /search``).
FiltersIn = model_of(Filters, name="FiltersIn", defaults=True)


def filters_of(model: BaseModel) -> Filters:
    """The engine's filters from a request's (checked by ``Filters`` itself: a ConfigError, 422)."""
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in model.model_dump().items()}
    return Filters(**values)


class SavedIn(BaseModel):
    model_config = _STRICT
    name: str
    query: str
    filters: FiltersIn = FiltersIn()  # type: ignore[valid-type]
    mode: Literal[MODES] | None = None  # type: ignore[valid-type]
    k: int | None = Field(None, description="Results each run keeps and compares (default 50).")


class Rename(BaseModel):
    model_config = _STRICT
    name: str = Field(description="The new name.")


class ListIn(BaseModel):
    model_config = _STRICT
    name: str


class PapersIn(BaseModel):
    model_config = _STRICT
    pmids: list[str] = Field(min_length=1)
    note: str | None = None
    create: bool = Field(False, description="Create the list if it does not exist.")


class PositionIn(BaseModel):
    model_config = _STRICT
    position: int = Field(ge=1, description="The paper's new place, from 1.")


class NoteIn(BaseModel):
    model_config = _STRICT
    note: str


class AddedOut(BaseModel):
    model_config = _STRICT
    added: list[str]
    already: list[str]


class QueryRunModel(BaseModel):
    model_config = _STRICT
    run_no: int
    ran_at: str
    mode: str
    candidates: int
    n_results: int
    n_new: int
    pulled: int | None
    snapshot: str | None


class SavedOut(BaseModel):
    model_config = _STRICT
    name: str
    query: str
    filters: FiltersModel  # type: ignore[valid-type]
    mode: str | None
    k: int
    created_at: str
    last_pull_at: str | None
    runs: int
    last_run: QueryRunModel | None


class AlertHitModel(HitModel):  # type: ignore[valid-type,misc]
    is_new: bool


class RunOut(BaseModel):
    model_config = _STRICT
    name: str
    query: str
    filters: FiltersModel  # type: ignore[valid-type]
    run: QueryRunModel
    previous_run_at: str | None
    warnings: list[str]
    hits: list[AlertHitModel]


class ListOut(BaseModel):
    model_config = _STRICT
    name: str
    created_at: str
    size: int


class EntryOut(BaseModel):
    model_config = _STRICT
    pmid: str
    position: int
    note: str | None
    added_at: str
    status: Literal["ok", "retracted", "missing"]
    title: str | None
    year: int | None
    journal: str | None
    doi: str | None


class ListViewOut(ListOut):
    missing: int
    retracted: int
    entries: list[EntryOut]


# -- summaries --------------------------------------------------------------------------------------

class SummaryIn(BaseModel):
    """A summary of the top ``n`` results of ``query``, or of the papers ``pmids`` (one PMID: its
    TL;DR). ``query`` is the question the overview answers; it is needed unless one PMID is given."""

    model_config = _STRICT
    query: str = ""
    pmids: list[str] = []
    n: int | None = Field(None, ge=1, le=20, description="Top results to summarise (default MEDSEARCH_SUMMARY_PAPERS).")
    filters: FiltersIn = FiltersIn()  # type: ignore[valid-type]
    mode: Literal[MODES] | None = None  # type: ignore[valid-type]


class SummaryOut(BaseModel):
    """``Summary.to_json()``: the text, the PMIDs given and cited, every flag, the model, the label
    and the findings (fields added by later versions pass through)."""

    model_config = _OPEN
    kind: Literal["overview", "tldr"]
    query: str
    text: str
    given_pmids: list[str]
    cited_pmids: list[str]
    flags: list[dict[str, Any]]
    model: str
    created_at: str
    label: str
    fallback: bool
    cached: bool
    sent_to: str | None
    findings: list[dict[str, Any]]


SORT = Literal[SORTS]  # type: ignore[valid-type]
MODE = Literal[MODES]  # type: ignore[valid-type]
