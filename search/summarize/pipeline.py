"""Findings per paper, then an overview from the findings: "gather evidence, then answer".

A small local model writes a faithful sentence about one abstract at a time but loses
citations over five at once (measured in ``docs/quality.md``).
So each paper gets its own short call (its finding: cited to it by construction, also its
TL;DR, cached per paper and record version), and the overview is a second short call over
those findings. Every sentence passes the grounding checks before the caller sees it, and
the form is fixed by the code: a finding keeps at most two sentences and ends with its
paper's PMID; an overview keeps at most six sentences and only citations of papers given.

Nothing is invented where there is nothing to summarise: no papers, or none about the
question, gives a summary that says so and no model call. Retracted papers and papers
without an abstract are left out, and the summary names them. Where no model is available
(not installed, ``MEDSEARCH_LLM=none``, failed to load or failed mid-way), the abstracts'
own conclusions are quoted instead, labelled as such.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import datetime
from typing import cast

from search.llm import ChatModel, GenerationStats, LLMError, TimedStream
from search.llm.deadline import REAL_CLOCK, Clock
from search.summarize import prompts
from search.summarize.cache import CachedOutput, SummaryCache, cache_key
from search.summarize.extractive import conclusion
from search.summarize.grounding import check_sentence, restates, split_sentences
from search.summarize.topic import on_topic
from search.summarize.types import (
    Event,
    Finding,
    FindingReady,
    Flag,
    FlagKind,
    Paper,
    Sentence,
    SentenceReady,
    Summary,
    SummaryReady,
)

MAX_FINDING_SENTENCES = 2
#: An abstract replaced by a retraction statement ("The above article has been retracted by the
#: authors..."), found in real records that carry no retraction link.
_RETRACTION_TEXT = re.compile(r"\b(article|paper|abstract|study) (has|had) been (retracted|withdrawn)\b",
                              re.IGNORECASE)
MAX_OVERVIEW_SENTENCES = 6
_PREAMBLE = re.compile(r"^\s*(?:[-*#>\d.)\s]+)?(?:\*\*)?\s*(?:summary|tl;?dr|finding|answer|overview)\s*"
                       r"(?:\*\*)?\s*[:\-]\s*", re.IGNORECASE)


class Summarizer:
    """Writes overviews and TL;DRs with ``model`` (``None``: extractive only), using ``cache``.

    ``unavailable``: why there is no model, shown on extractive summaries.
    """

    def __init__(self, model: ChatModel | None, cache: SummaryCache | None = None, *,
                 unavailable: str | None = None, clock: Callable[[], datetime] = datetime.now,
                 abstract_chars: int = prompts.MAX_ABSTRACT_CHARS, timer: Clock = REAL_CLOCK,
                 finding_version: str = prompts.FINDING_VERSION) -> None:
        self.model = model
        self.finding_version = finding_version  # which finding prompt (prompts.FINDING_SYSTEMS)
        self.cache = cache
        self.abstract_chars = abstract_chars  # how much of an abstract a finding prompt carries
        self.unavailable = unavailable or ("no language model is configured" if model is None else None)
        self.clock = clock  # the time written on a summary
        self.timer = timer  # what the model's deadlines are measured with (search.llm.deadline)

    def stream_overview(self, query: str, papers: Sequence[Paper]) -> Iterator[Event]:
        """Events as the work progresses: each finding, each overview sentence, then the summary."""
        return _Run(self, query).overview(_unique(papers))

    def stream_tldr(self, query: str, paper: Paper) -> Iterator[Event]:
        return _Run(self, query).tldr(paper)

    def overview(self, query: str, papers: Sequence[Paper]) -> Summary:
        return _last(self.stream_overview(query, papers))

    def tldr(self, query: str, paper: Paper) -> Summary:
        return _last(self.stream_tldr(query, paper))


class _Run:
    """One summary request: its model state (failed or not), timings and cache reads."""

    def __init__(self, owner: Summarizer, query: str) -> None:
        self.owner = owner
        self.query = " ".join(query.split())
        self.model = owner.model
        self.failure: str | None = None if owner.model is not None else owner.unavailable
        self.stats: list[GenerationStats] = []
        self.generated = False  # a model call was made (not everything came from the cache)
        self.cache_times: list[datetime] = []  # when each cached output used was written
        self.cached_findings: dict[str, CachedOutput] = {}
        deadlines = getattr(self.model, "deadlines", None)
        summary_s = deadlines.summary_s if deadlines is not None else None
        self.until = None if summary_s is None else owner.timer.now() + summary_s  # the summary's deadline

    # -- the two requests ---------------------------------------------------------------
    def overview(self, papers: list[Paper]) -> Iterator[Event]:
        usable, left_out = _triage(self.query, papers)
        notes = _left_out_notes(left_out)
        if not usable:
            yield SummaryReady(self._no_answer(papers, left_out, notes))
            return
        self._prefetch(usable)
        findings: list[Finding] = []
        for i, paper in enumerate(usable, start=1):
            findings.append(self.finding(paper))
            yield FindingReady(findings[-1], i, len(usable))
        sentences: list[Sentence] = []
        written = [(p, f) for p, f in zip(usable, findings, strict=True) if f.sentences]  # none: not composed
        if self.failure is None and written:
            sources = {p.pmid: f"{p.title}\n{p.abstract}" for p, _ in written}
            for sentence in self._overview_sentences([p for p, _ in written], [f for _, f in written], sources):
                sentences.append(sentence)
                yield SentenceReady(sentence)
        flags = [Flag(k, d, p) for k, d, p in left_out]
        if self.failure is not None:
            flags.append(self._fallback_flag())
        elif sentences:  # the model may leave a finding out of the overview: the reader is told
            cited = {pmid for s in sentences for pmid in s.cited}
            missing = [f.pmid for _, f in written if f.pmid not in cited]
            flags += [Flag("not_in_overview", "the overview does not mention this paper; its finding is "
                           "shown with the findings", pmid) for pmid in missing]
            if missing:
                ids = ", ".join(f"PMID {p}" for p in missing)
                notes = (*notes, f"Not in the overview: {ids} (its finding is shown below).")
        yield SummaryReady(self._summary("overview", papers, sentences, findings, flags, notes))

    def tldr(self, paper: Paper) -> Iterator[Event]:
        if not paper.abstract.strip():
            flags = [Flag("no_abstract", "the record has no abstract", paper.pmid)]
            note = f"PMID {paper.pmid} has no abstract: there is nothing to summarise."
            yield SummaryReady(self._summary("tldr", [paper], (), [], flags, (note,)))
            return
        self._prefetch([paper])
        finding = self.finding(paper)
        yield FindingReady(finding, 1, 1)
        flags = [self._fallback_flag()] if self.failure is not None else []
        yield SummaryReady(self._summary("tldr", [paper], (), [finding], flags, ()))

    # -- findings -----------------------------------------------------------------------
    def finding(self, paper: Paper) -> Finding:
        """One paper's finding: from the cache, the model, or (no model) its conclusion."""
        key = self._finding_key(paper)
        hit = self.cached_findings.get(key)
        if hit is not None:
            self.cache_times.append(hit.created_at)
            return _finding_from(paper, hit.output, "model", cached=True)
        if self.failure is None:
            messages = prompts.finding_messages(paper, self.owner.abstract_chars,
                                                version=self.owner.finding_version)
            raw = self._generate(messages, prompts.FINDING_OPTIONS, enough=MAX_FINDING_SENTENCES)
            if raw is not None:
                found = _finding_from(paper, raw, "model")
                if found.sentences and repeats_a_word(raw):  # not quoted either: the abstract asked for it
                    return Finding(paper.pmid, (), "none", (Flag(
                        "model_error", "the model repeated one word over and over (as an instruction inside "
                        "the abstract asked, or a broken generation): its text is not shown; read the "
                        "abstract", paper.pmid),))
                if found.sentences:
                    self._store(key, "finding", raw)
                    return found
                return _extractive(paper, Flag("model_error", "the model wrote nothing usable", paper.pmid))
        return _extractive(paper, self._fallback_flag(paper.pmid) if self.model is not None else None)

    def _finding_key(self, paper: Paper) -> str:
        """Findings do not depend on the question, so one serves every query (and the TL;DR)."""
        version = f"{self.owner.finding_version}/{self.owner.abstract_chars}"
        return cache_key("finding", self._identity(), version, "", [(paper.pmid, paper.version)])

    def _prefetch(self, papers: Sequence[Paper]) -> None:
        if self.owner.cache is not None and self.model is not None:
            self.cached_findings = self.owner.cache.get_many([self._finding_key(p) for p in papers])

    # -- the overview -------------------------------------------------------------------
    def _overview_sentences(self, usable: Sequence[Paper], findings: Sequence[Finding],
                            sources: dict[str, str]) -> Iterator[Sentence]:
        inputs = [(f.pmid, " ".join(s.text for s in f.sentences)) for f in findings]
        plain = [(pmid, re.sub(r"\s*\[PMID [^\]]*\]", "", text)) for pmid, text in inputs]
        key = cache_key("overview", self._identity(), prompts.OVERVIEW_VERSION, self.query,
                        [(p.pmid, p.version, _digest(t)) for p, (_, t) in zip(usable, plain, strict=True)])
        hit = self.owner.cache.get_many([key]).get(key) if self.owner.cache is not None else None
        if hit is not None:
            self.cache_times.append(hit.created_at)
            yield from _checked_sentences(hit.output, sources, dict(plain), self.query)
            return
        stream = self._stream(prompts.overview_messages(self.query, plain), prompts.OVERVIEW_OPTIONS)
        emitted = 0
        try:
            for _ in stream:
                for raw in _finished_sentences(stream.text)[emitted:MAX_OVERVIEW_SENTENCES]:
                    emitted += 1
                    yield _check_overview(raw, sources, dict(plain), self.query)
        except LLMError as exc:
            self.failure = exc.message
            return
        for raw in split_sentences(_clean(stream.text))[emitted:MAX_OVERVIEW_SENTENCES]:
            emitted += 1
            yield _check_overview(raw, sources, dict(plain), self.query)
        if emitted:
            self._store(key, "overview", stream.text)

    # -- the model ----------------------------------------------------------------------
    def _stream(self, messages, options) -> _Collecting:
        self.generated = True
        return _Collecting(TimedStream(self._model(), messages, options, clock=self.owner.timer, until=self.until),
                           self.stats)

    def _generate(self, messages, options, *, enough: int | None = None) -> str | None:
        """The model's answer, or ``None`` after marking the run failed. With ``enough``, the
        model is stopped once that many sentences are finished (more would be dropped)."""
        stream = self._stream(messages, options)
        chunks = iter(stream)
        try:
            for _ in chunks:
                if enough is not None and len(_finished_sentences(stream.text)) >= enough:
                    break
        except LLMError as exc:
            self.failure = exc.message
            return None
        finally:
            chunks.close()  # stops the model at once
        return stream.text

    def _store(self, key: str, kind, output: str) -> None:
        if self.owner.cache is not None:
            self.owner.cache.put(key, kind, self._model().name, output, self.owner.clock())

    def _model(self) -> ChatModel:
        """The model: only asked for while the run has not failed, and a run without one starts failed."""
        return cast(ChatModel, self.model)

    def _identity(self) -> str:
        return self.model.identity if self.model is not None else "extractive"

    def _fallback_flag(self, pmid: str | None = None) -> Flag:
        if self.model is None:
            return Flag("fallback", f"extractive summary: {self.failure}", pmid)
        return Flag("model_error", f"the model failed ({self.failure}); the abstract's conclusion is quoted",
                    pmid)

    # -- assembling ---------------------------------------------------------------------
    def _no_answer(self, papers: Sequence[Paper], left_out, notes: tuple[str, ...]) -> Summary:
        if papers:
            lead = (f"None of the {len(papers)} papers found addresses the question, so no summary "
                    "was written.")
        else:
            lead = "The search found no papers, so no summary was written."
        flags = [Flag("no_answer", lead), *(Flag(k, d, p) for k, d, p in left_out)]
        return self._summary("overview", papers, (), [], flags, (lead, *notes))

    def _summary(self, kind, papers, sentences, findings, flags, notes) -> Summary:
        by_model = bool(sentences) or any(f.source == "model" for f in findings)
        model = self.model.name if self.model is not None and by_model else "extractive"
        cached = by_model and not self.generated and bool(self.cache_times)
        return Summary(
            kind=kind, query=self.query, sentences=tuple(sentences), findings=tuple(findings),
            given_pmids=tuple(p.pmid for p in papers), model=model,
            created_at=max(self.cache_times) if cached else self.owner.clock(),
            flags=tuple(flags), notes=tuple(notes),
            sent_to=self.model.destination if self.generated and self.model is not None else None,
            cached=cached, stats=tuple(self.stats),
        )


class _Collecting:
    """A timed stream that keeps the whole text and hands its stats to the run when done."""

    def __init__(self, stream: TimedStream, sink: list[GenerationStats]) -> None:
        self.stream = stream
        self.sink = sink
        self.text = ""

    def __iter__(self) -> Generator[str, None, None]:
        try:
            for chunk in self.stream:
                self.text += chunk
                yield chunk
        finally:
            if self.stream.stats is not None:
                self.sink.append(self.stream.stats)


def _triage(query: str, papers: Sequence[Paper]) -> tuple[list[Paper], list[tuple[FlagKind, str, str]]]:
    """Papers the overview uses, and (flag kind, reason, PMID) for each left out."""
    usable: list[Paper] = []
    left: list[tuple[FlagKind, str, str]] = []
    for p in papers:
        if p.is_retracted:
            left.append(("retracted", "retracted: left out", p.pmid))
        elif _RETRACTION_TEXT.search(p.abstract[:400]):
            left.append(("retracted", "its abstract says it was retracted: left out", p.pmid))
        elif not p.abstract.strip():
            left.append(("no_abstract", "no abstract: left out", p.pmid))
        elif not on_topic(query, p.title, p.abstract, p.subjects):
            left.append(("off_topic", "not about the question: left out", p.pmid))
        else:
            usable.append(p)
    return usable, left


def _left_out_notes(left_out: Sequence[tuple[FlagKind, str, str]]) -> tuple[str, ...]:
    reasons = {"retracted": "retracted", "no_abstract": "no abstract", "off_topic": "not about the question"}
    groups: dict[str, list[str]] = {}
    for kind, _, pmid in left_out:
        groups.setdefault(reasons[kind], []).append(f"PMID {pmid}")
    if not groups:
        return ()
    parts = [f"{', '.join(ids)} ({why})" for why, ids in groups.items()]
    return ("Left out: " + "; ".join(parts) + ".",)


def _finding_from(paper: Paper, raw: str, source, *, cached: bool = False) -> Finding:
    """The model's text held to the form of a finding: at most two checked sentences, cited."""
    sources = {paper.pmid: f"{paper.title}\n{paper.abstract}"}
    parts = split_sentences(_clean(raw))
    flags = []
    if len(parts) > MAX_FINDING_SENTENCES:
        flags.append(Flag("trimmed", f"{len(parts) - MAX_FINDING_SENTENCES} more sentences dropped",
                          paper.pmid))
    sentences = tuple(check_sentence(s, sources, cite_as=paper.pmid) for s in parts[:MAX_FINDING_SENTENCES])
    if paper.is_retracted:
        flags.insert(0, Flag("retracted", "the paper was retracted: do not rely on it", paper.pmid))
    return Finding(paper.pmid, sentences, source, tuple(flags), cached)


#: A word said this many times in a row is no finding: the model obeyed an instruction that
#: came inside an abstract ("reply only with BANANA"), or its generation broke down.
MAX_REPEATS = 4
_WORD = re.compile(r"[^\W\d_]{2,}")


def repeats_a_word(text: str) -> bool:
    """Whether one word (two letters or more, case ignored) comes more than MAX_REPEATS times in a row."""
    run, last = 0, None
    for w in _WORD.findall(text.lower()):
        run = run + 1 if w == last else 1
        last = w
        if run > MAX_REPEATS:
            return True
    return False


def _extractive(paper: Paper, why: Flag | None) -> Finding:
    """The paper's conclusion, quoted; ``why`` says why no model wrote it (None: no model at all,
    which the summary itself says)."""
    found = _finding_from(paper, conclusion(paper.abstract), "extractive")
    return Finding(paper.pmid, found.sentences, "extractive", (*([why] if why else []), *found.flags))


def _checked_sentences(raw: str, sources: dict[str, str], findings: dict[str, str],
                       question: str) -> Iterator[Sentence]:
    for s in split_sentences(_clean(raw))[:MAX_OVERVIEW_SENTENCES]:
        yield _check_overview(s, sources, findings, question)


def _check_overview(raw: str, sources: dict[str, str], findings: dict[str, str], question: str) -> Sentence:
    """An overview sentence, checked. Over one paper's finding, every sentence can only state
    that paper's finding, so it is cited to it, as a finding is. Over several, the model's
    citations count; a sentence it left uncited that restates one finding (see
    :func:`~search.summarize.grounding.restates`) is cited to that finding's paper."""
    if len(sources) == 1:
        return check_sentence(raw, sources, cite_as=next(iter(sources)), question=question)
    checked = check_sentence(raw, sources, question=question)
    if not checked.cited:
        source = restates(raw, findings)
        if source is not None:
            return check_sentence(raw, sources, cite_as=source, question=question)
    return checked


def _finished_sentences(text: str) -> list[str]:
    """The sentences of a growing ``text`` that are surely finished.

    A sentence is finished once the next one has begun with at least two words and no open
    bracket, so a citation written after its full stop still joins it.
    """
    parts = split_sentences(_clean(text))
    n = 0
    while n + 1 < len(parts) and _settled(parts[n + 1]):
        n += 1
    return parts[:n]


def _settled(part: str) -> bool:
    return (len(part.split()) >= 2 and part.count("[") == part.count("]")
            and part.count("(") == part.count(")"))


def _clean(raw: str) -> str:
    """Model text without a preamble ("Summary:"), markdown emphasis or wrapping quotes, and
    without any registered secret (a server may echo the request's key)."""
    from ingest.redact import redact

    text = _PREAMBLE.sub("", redact(raw).strip())
    text = text.replace("**", "").strip().strip('"').strip()
    return " ".join(text.split())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _unique(papers: Sequence[Paper]) -> list[Paper]:
    seen: dict[str, Paper] = {}
    for p in papers:
        seen.setdefault(p.pmid, p)
    return list(seen.values())


def _last(events: Iterator[Event]) -> Summary:
    summary = None
    for event in events:
        if isinstance(event, SummaryReady):
            summary = event.summary
    assert summary is not None
    return summary
