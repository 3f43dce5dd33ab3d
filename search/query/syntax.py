"""PubMed query syntax: lexer, recursive-descent parser, typed AST, explain and to_pubmed.

A query mixes free text (ranked by the engine) with PubMed-style boolean clauses that
restrict the candidates before ranking (``docs/query-syntax.md`` is the user's guide):

    metformin cancer AND (randomized controlled trial[pt] OR meta-analysis[pt]) AND 2015:2024[dp]

How a query splits (:func:`parse`):

* The whole query is parsed into one tree. Operators are the upper-case words ``AND``,
  ``OR`` and ``NOT``; like PubMed, they bind **left to right** with equal precedence
  (``a OR b AND c`` is ``(a OR b) AND c``); terms side by side are joined by AND.
* A term is a quoted phrase, or a run of unquoted words, optionally followed by a field
  tag; the tag applies to the whole run (``heart failure[tiab]`` is the phrase).
* The top level is read as a list of AND-ed clauses. A clause that is an *untagged* term
  is **free text**: it ranks, it does not restrict. Every other clause (a tagged term, an
  OR group, a NOT clause, a parenthesised group holding any of those) is a restriction.
  An untagged term *inside* a restriction means "in any field" (``[all]``).
* :attr:`ParsedQuery.free_text` is the words of the free-text clauses; when there are none,
  the untagged words inside the restriction that are not negated (so ``metformin OR
  insulin`` ranks by both words). It is empty for a purely tagged query, which the engine
  lists newest first.

The parser is written by hand: the grammar is six productions, and PubMed's left-to-right
operators, tags that follow a run of words and ``A[dp] : B[dp]`` ranges are easier to say
in a small recursive descent than in a parser library's grammar language. Nothing here
touches a database; :mod:`search.query.restrict` evaluates the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date

from ingest.errors import ConfigError

OPERATORS = ("AND", "OR", "NOT")
#: Parentheses nested deeper than this are refused (PubMed's own queries rarely pass 5): the
#: parser, and everything that walks the tree, recurse once per level.
MAX_NESTING = 64
#: The most levels a query's tree may have. Operators of mixed kinds nest without parentheses
#: (``a OR b AND c OR d ...`` reads left to right, one level per change), and explain, to_pubmed
#: and the restriction walk the tree recursively.
MAX_DEPTH = 64


class QuerySyntaxError(ConfigError):
    """A query that cannot be parsed; ``position`` is 0-based in ``query``.

    ``str(err)`` shows the message, the query and a caret under the offending spot.
    """

    def __init__(self, message: str, *, query: str, position: int, hint: str | None = None) -> None:
        self.query = query
        self.position = max(0, min(position, len(query)))
        self.caret_line = " " * self.position + "^"
        shown = f"{message} (at position {self.position})\n  {query}\n  {self.caret_line}"
        super().__init__(shown, hint=hint or "Check the query syntax: docs/query-syntax.md.")
        from ingest.redact import redact

        self.reason = redact(message)


# ---------------------------------------------------------------------------- fields


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One searchable field: its canonical code, the tag printed by to_pubmed, what it means."""

    code: str
    tag: str
    description: str
    kind: str  # words | term | date | subset | id
    aliases: tuple[str, ...] = ()
    expandable: bool = False  # takes ":noexp" (MeSH-like fields)


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("all", "all", "any field", "words", ("all fields",)),
    FieldSpec("tw", "tw", "text words (title, abstract, keywords, MeSH, publication types, substances)",
              "words", ("text word", "text words", "textword")),
    FieldSpec("tiab", "tiab", "title, abstract or author keywords", "words", ("title/abstract",)),
    FieldSpec("ti", "ti", "title", "words", ("title",)),
    FieldSpec("ab", "ab", "abstract", "words", ("abstract",)),
    FieldSpec("ot", "ot", "author keywords", "words", ("other term", "other terms", "keyword", "kw")),
    FieldSpec("nm", "nm", "substance name", "words", ("substance name", "supplementary concept")),
    FieldSpec("au", "au", "author", "term", ("author", "auth", "full author name", "fau")),
    FieldSpec("1au", "1au", "first author", "term", ("author - first", "first author")),
    FieldSpec("lastau", "lastau", "last author", "term", ("author - last", "last author")),
    FieldSpec("mh", "mh", "MeSH descriptor", "term", ("mesh", "mesh terms", "mesh term"), True),
    FieldSpec("majr", "majr", "MeSH major topic", "term", ("mesh major topic",), True),
    FieldSpec("sh", "sh", "MeSH subheading (qualifier)", "term",
              ("subheading", "mesh subheading", "mesh subheadings"), True),
    FieldSpec("pt", "pt", "publication type", "term", ("publication type", "ptyp")),
    FieldSpec("ta", "ta", "journal", "term", ("journal", "jour", "jt")),
    FieldSpec("la", "la", "language", "term", ("language", "lang")),
    FieldSpec("dp", "dp", "publication date (print or electronic)", "date",
              ("date - publication", "publication date", "pdat")),
    FieldSpec("pmid", "pmid", "PMID", "id", ("uid", "pubmed id")),
    FieldSpec("doi", "doi", "DOI", "id", ("lid",)),
    FieldSpec("pmcid", "pmcid", "PMCID", "id", ("pmc",)),
    FieldSpec("sb", "sb", "subset", "subset", ("subset", "filter")),
)
FIELD_BY_CODE = {f.code: f for f in FIELDS}
_TAG_LOOKUP = {name: f for f in FIELDS for name in (f.code, *f.aliases)}

#: Values of ``[sb]``: what each selects is defined in :mod:`search.query.restrict`.
SUBSETS = {
    "all": "every record",
    "medline": "records indexed for MEDLINE (status MEDLINE)",
    "pubmed pmc": "records with a PMCID",
    "pmc": "records with a PMCID",
    "free full text": "records with a PMCID (free in PMC); publisher-hosted free text is not recorded",
    "systematic": "PubMed's systematic review filter (search.query.clinical.SYSTEMATIC_REVIEW)",
    "retracted": "retracted papers (a RetractionIn link, or the publication type Retracted Publication)",
}


def valid_tags() -> str:
    return ", ".join(f"[{f.code}]" for f in FIELDS)


# ---------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Term:
    """A word, phrase or name in one field (``field`` None: untagged).

    ``text`` is as written (whitespace collapsed, ``*`` kept): a word ending in ``*`` is a
    prefix, a lone ``*`` any word. Several words are a phrase (adjacent words) in a tagged
    field; untagged and unquoted, each word must occur somewhere.
    """

    text: str
    field: str | None = None
    quoted: bool = False
    noexp: bool = False
    pos: int = dc_field(default=0, compare=False)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.text.split())

    @property
    def truncated(self) -> bool:
        return any(w.endswith("*") for w in self.words)


@dataclass(frozen=True, slots=True)
class DateRange:
    """Publication dates from ``start`` to ``end``, both included."""

    start: date
    end: date
    field: str = "dp"
    start_text: str = dc_field(default="", compare=False)
    end_text: str = dc_field(default="", compare=False)
    pos: int = dc_field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """Every record but those matching ``item``; ``A NOT B`` parses as ``And((A, Not(B)))``."""

    item: Node


Node = Term | DateRange | And | Or | Not


def and_(*items: Node) -> Node:
    """AND of ``items``, nested ANDs flattened (AND is associative)."""
    flat: list[Node] = []
    for it in items:
        flat.extend(it.items if isinstance(it, And) else (it,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def or_(*items: Node) -> Node:
    flat: list[Node] = []
    for it in items:
        flat.extend(it.items if isinstance(it, Or) else (it,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


# ---------------------------------------------------------------------------- lexer


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # WORD QUOTED TAG LPAREN RPAREN OP COLON END
    text: str
    pos: int


_WORD_END = re.compile(r'[\s()"\[\]]')


def _lex(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            toks.append(_Tok("LPAREN" if c == "(" else "RPAREN", c, i))
            i += 1
        elif c == '"':
            j = query.find('"', i + 1)
            if j < 0:
                raise QuerySyntaxError("unterminated quote", query=query, position=i,
                                       hint='Close the phrase with a second ".')
            toks.append(_Tok("QUOTED", query[i + 1 : j], i))
            i = j + 1
        elif c == "[":
            j = query.find("]", i + 1)
            if j < 0:
                raise QuerySyntaxError("unterminated field tag", query=query, position=i,
                                       hint="Close the tag with ], e.g. metformin[tiab].")
            toks.append(_Tok("TAG", query[i + 1 : j], i))
            i = j + 1
            k = i
            while k < n and query[k].isspace():
                k += 1
            if k < n and query[k] == ":":  # A[dp] : B[dp]
                toks.append(_Tok("COLON", ":", k))
                i = k + 1
        elif c == "]":
            raise QuerySyntaxError("']' without '['", query=query, position=i)
        else:
            m = _WORD_END.search(query, i)
            j = m.start() if m else n
            word = query[i:j]
            toks.append(_Tok("OP" if word in OPERATORS else "WORD", word, i))
            i = j
    toks.append(_Tok("END", "", n))
    return toks


# ---------------------------------------------------------------------------- parser


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A parsed query: the whole tree, and its split into free text and restriction."""

    query: str
    root: Node | None
    free_clauses: tuple[Term, ...]
    restriction: Node | None

    @property
    def free_text(self) -> str:
        """Text to rank by: the free-text clauses, else the restriction's positive untagged words
        (a truncated word restricts only: a prefix is no term to rank by)."""
        if self.free_clauses:
            return " ".join(t.text for t in self.free_clauses)
        return " ".join(w for t in _positive_untagged(self.restriction) for w in t.words if not w.endswith("*"))

    @property
    def boolean_only(self) -> bool:
        """True when nothing is left to rank by: the engine lists the matches newest first."""
        return not self.free_text

    def explain(self) -> str:
        """How the query was understood, for ``medsearch search --explain-query``."""
        return explain(self)

    def to_pubmed(self) -> str:
        return to_pubmed(self.root) if self.root is not None else ""


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.toks = _lex(query)
        self.i = 0
        self.nesting = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, message: str, pos: int, hint: str | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(message, query=self.query, position=pos, hint=hint)

    # expr := operand ((OP | implicit AND) operand)*   -- left to right, like PubMed
    def expr(self, depth: int) -> Node:
        left = self.operand()
        while True:
            tok = self.peek()
            if tok.kind == "END" or (tok.kind == "RPAREN" and depth > 0):
                return left
            if tok.kind == "RPAREN":
                raise self.error("')' without a matching '('", tok.pos,
                                 "Remove the ')' or add a '(' before it.")
            op = "AND"
            if tok.kind == "OP":
                op = self.take().text
                nxt = self.peek()
                if nxt.kind in ("END", "RPAREN", "OP"):
                    raise self.error(f"{op} needs a clause after it", nxt.pos if nxt.kind != "END" else tok.pos,
                                     f"Write a term after {op}, or remove it.")
            right = self.operand()
            left = and_(left, right) if op == "AND" else or_(left, right) if op == "OR" else and_(left, Not(right))

    def operand(self) -> Node:
        tok = self.peek()
        if tok.kind == "LPAREN":
            self.take()
            if self.peek().kind == "RPAREN":
                raise self.error("empty parentheses", tok.pos, "Put a clause inside ( ), or remove them.")
            if self.nesting >= MAX_NESTING:
                raise self.error(f"parentheses nested more than {MAX_NESTING} deep", tok.pos,
                                 "Remove parentheses that hold a single clause; AND, OR and NOT read left to right.")
            self.nesting += 1
            node = self.expr(depth=1)
            self.nesting -= 1
            if self.peek().kind != "RPAREN":
                raise self.error("'(' is never closed", tok.pos, "Add the missing ')'.")
            self.take()
            return node
        if tok.kind == "OP":
            raise self.error(f"{tok.text} needs a clause before it", tok.pos,
                             f"Start with a term, e.g. 'metformin {tok.text} …'; for "
                             "'everything except', write 'all[sb] NOT …'.")
        if tok.kind in ("WORD", "QUOTED"):
            return self.term()
        if tok.kind == "TAG":
            raise self.error("field tag without a term before it", tok.pos,
                             "Write the term before its tag, e.g. metformin[tiab].")
        if tok.kind == "COLON":
            raise self.error("':' outside a date range", tok.pos, "Write ranges as 2015:2020[dp].")
        if tok.kind == "RPAREN":
            raise self.error("')' without a matching '('", tok.pos)
        raise self.error("the query ends where a clause was expected", tok.pos)

    def term(self) -> Node:
        first = self.take()
        if first.kind == "QUOTED":
            text, quoted = " ".join(first.text.split()), True
            if not text:
                raise self.error("empty phrase", first.pos, 'Put words between the quotes, e.g. "heart failure".')
        else:
            words = [first.text]
            while self.peek().kind == "WORD":
                words.append(self.take().text)
            text, quoted = " ".join(words), False
        if self.peek().kind != "TAG":
            _check_wildcards(self, text, first.pos)
            return Term(text, None, quoted, False, first.pos)
        tag = self.take()
        spec, noexp = _field_of(self, tag)
        if spec.kind == "date":
            return self.date_term(text, first.pos, spec)
        if self.peek().kind == "COLON":
            raise self.error("':' ranges are for dates", self.peek().pos, "Use a range only with [dp].")
        _check_wildcards(self, text, first.pos)
        if spec.kind == "subset" and text.lower() not in SUBSETS:
            raise self.error(f"unknown subset {text!r}", first.pos,
                             "Known subsets: " + ", ".join(f"{s}[sb]" for s in SUBSETS) + ".")
        return Term(text, spec.code, quoted, noexp, first.pos)

    def date_term(self, text: str, pos: int, spec: FieldSpec) -> DateRange:
        if self.peek().kind == "COLON":  # A[dp] : B[dp]
            self.take()
            nxt = self.peek()
            if nxt.kind not in ("WORD", "QUOTED"):
                raise self.error("date range without an end", nxt.pos, "Write e.g. 2015:2020[dp].")
            end_tok = self.take()
            end_text = end_tok.text
            while self.peek().kind == "WORD":
                end_text += " " + self.take().text
            tag = self.peek()
            if tag.kind != "TAG" or _field_of(self, self.take())[0].code != spec.code:
                raise self.error("the end of a date range needs the same tag", end_tok.pos,
                                 "Write e.g. 2015[dp] : 2020[dp], or 2015:2020[dp].")
            text = f"{text}:{end_text}"
        return _date_range(self, text, pos, spec.code)


def _field_of(p: _Parser, tag: _Tok) -> tuple[FieldSpec, bool]:
    name = " ".join(tag.text.lower().split())
    noexp = False
    if name.endswith(":noexp"):
        name, noexp = name[: -len(":noexp")].strip(), True
    spec = _TAG_LOOKUP.get(name)
    if spec is None:
        raise p.error(f"unknown field tag [{tag.text}]", tag.pos, f"Known tags: {valid_tags()}.")
    if noexp and not spec.expandable:
        raise p.error(f"[{tag.text}]: ':noexp' applies only to MeSH tags", tag.pos,
                      "Use it as [mh:noexp], [majr:noexp] or [sh:noexp].")
    return spec, noexp


def _check_wildcards(p: _Parser, text: str, pos: int) -> None:
    words = text.split()
    for k, w in enumerate(words):
        core = w[:-1] if w.endswith("*") else w
        if "*" in core:
            raise p.error(f"'*' inside {w!r}", pos, "Truncation goes at the end of a word, e.g. random*.")
        if w == "*" and k == 0:
            raise p.error("'*' needs a word before it", pos, "Truncate a word, e.g. random*.")


_DATE = re.compile(r"^(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?$")


def _parse_date(p: _Parser, text: str, pos: int, *, end: bool) -> date:
    m = _DATE.match(text.strip().strip('"'))
    if not m:
        raise p.error(f"not a date: {text!r}", pos, "Dates are YYYY, YYYY/MM or YYYY/MM/DD, e.g. 2019/06[dp].")
    year, month, day = int(m[1]), m[2], m[3]
    try:
        if month is None:
            return date(year, 12, 31) if end else date(year, 1, 1)
        mo = int(month)
        if day is None:
            if not end:
                return date(year, mo, 1)
            nxt = date(year + (mo == 12), mo % 12 + 1, 1)
            return date.fromordinal(nxt.toordinal() - 1)
        return date(year, mo, int(day))
    except ValueError:
        raise p.error(f"no such date: {text!r}", pos, "Check the month (1-12) and the day.") from None


def _date_range(p: _Parser, text: str, pos: int, code: str) -> DateRange:
    parts = [s.strip() for s in text.replace(" : ", ":").split(":")]
    if len(parts) > 2 or any(not s for s in parts):
        raise p.error(f"bad date range {text!r}", pos, "Write a date or a range: 2019[dp], 2015:2020[dp].")
    start = _parse_date(p, parts[0], pos, end=False)
    end = _parse_date(p, parts[-1], pos, end=True)
    if start > end:
        raise p.error(f"date range runs backwards: {text!r}", pos, "Put the earlier date first, e.g. 2015:2020[dp].")
    return DateRange(start, end, code, parts[0], parts[-1], pos)


def parse(query: str) -> ParsedQuery:
    """Parse ``query``; raises :class:`QuerySyntaxError` (a ConfigError) with a position."""
    if not query.strip():
        return ParsedQuery(query, None, (), None)
    p = _Parser(query)
    root = p.expr(depth=0)
    if p.peek().kind != "END":  # pragma: no cover - expr() consumes to END at depth 0
        raise p.error("unexpected text", p.peek().pos)
    deep = _too_deep(root)
    if deep is not None:
        raise p.error(f"the query nests its clauses more than {MAX_DEPTH} levels deep", deep,
                      "AND, OR and NOT read left to right, each change of operator one level deeper: "
                      "group with parentheses, e.g. (a OR b) AND (c OR d).")
    return split(query, root)


def _too_deep(root: Node) -> int | None:
    """The position of a leaf deeper than :data:`MAX_DEPTH` levels, or None (no recursion)."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (Term, DateRange)):
            if level > MAX_DEPTH:
                return node.pos
            continue
        if level > MAX_DEPTH:
            return _first_pos(node)
        children = (node.item,) if isinstance(node, Not) else node.items
        stack.extend((child, level + 1) for child in children)
    return None


def _first_pos(node: Node) -> int:
    while not isinstance(node, (Term, DateRange)):
        node = node.item if isinstance(node, Not) else node.items[0]
    return node.pos


def split(query: str, root: Node) -> ParsedQuery:
    """Split a tree into top-level free-text clauses and the restriction (module docstring).

    A truncated word (``randomiz*``) cannot rank (no index holds a prefix as a term), so an
    untagged one is what PubMed makes of it: a restriction to records with a word starting so
    in any field. ``metformin randomiz*`` ranks by ``metformin`` among the records that have a
    word starting with ``randomiz``; a quoted untagged phrase holding one restricts whole."""
    clauses = root.items if isinstance(root, And) else (root,)
    free: list[Term] = []
    rest: list[Node] = []
    for clause in clauses:
        if isinstance(clause, Term) and clause.field is None:
            ranked, restricting = _split_truncated(clause)
            free += [ranked] if ranked is not None else []
            rest += [restricting] if restricting is not None else []
        else:
            rest.append(clause)
    restriction = and_(*rest) if rest else None
    return ParsedQuery(query, root, tuple(free), restriction)


def _split_truncated(term: Term) -> tuple[Term | None, Term | None]:
    """An untagged top-level term as (the words that rank, the truncated words that restrict)."""
    if not term.truncated:
        return term, None
    if term.quoted:
        return None, term
    prefixes = [w for w in term.words if w.endswith("*") and w != "*"]
    plain = [w for w in term.words if not w.endswith("*")]
    ranked = Term(" ".join(plain), None, False, term.noexp, term.pos) if plain else None
    return ranked, Term(" ".join(prefixes), None, False, False, term.pos)


def parse_restriction(query: str) -> Node:
    """Parse ``query`` as a restriction only: untagged terms mean "any field" (for filters)."""
    parsed = parse(query)
    if parsed.root is None:
        raise QuerySyntaxError("empty filter", query=query, position=0)
    return parsed.root


def _positive_untagged(node: Node | None) -> list[Term]:
    if node is None or isinstance(node, (DateRange, Not)):
        return []
    if isinstance(node, Term):
        return [node] if node.field is None else []
    return [t for it in node.items for t in _positive_untagged(it)]


# ---------------------------------------------------------------------------- to_pubmed

#: Unquoted text that would lex differently (only programmatic terms can hold it).
_NEEDS_QUOTES = re.compile(r'[()\[\]]|(?:^|\s)(?:AND|OR|NOT)(?:\s|$)')


def _term_text(t: Term) -> str:
    if t.quoted or _NEEDS_QUOTES.search(t.text):
        return f'"{t.text}"'
    return t.text


def _leaf(node: Term | DateRange) -> str:
    if isinstance(node, DateRange):
        a = node.start_text or node.start.strftime("%Y/%m/%d")
        b = node.end_text or node.end.strftime("%Y/%m/%d")
        return f"{a}[{node.field}]" if a == b else f"{a}:{b}[{node.field}]"
    if node.field is None:
        return _term_text(node)
    tag = FIELD_BY_CODE[node.field].tag + (":noexp" if node.noexp else "")
    return f"{_term_text(node)}[{tag}]"


def to_pubmed(node: Node) -> str:
    """The tree as PubMed syntax; ``parse(to_pubmed(root)).root == root`` for parsed trees."""
    if isinstance(node, (Term, DateRange)):
        return _leaf(node)
    if isinstance(node, Not):
        return f"all[sb] NOT {_child(node.item)}"
    if isinstance(node, Or):
        return " OR ".join(_child(it) for it in node.items)
    out: list[str] = []
    for k, it in enumerate(node.items):
        if isinstance(it, Not):
            out.append(("all[sb] NOT " if k == 0 else "NOT ") + _child(it.item))
        else:
            out.append(("AND " if k else "") + _child(it))
    return " ".join(out)


def _child(node: Node) -> str:
    text = to_pubmed(node)
    return text if isinstance(node, (Term, DateRange)) else f"({text})"


# ---------------------------------------------------------------------------- explain


def explain(pq: ParsedQuery) -> str:
    """A readable account of how ``pq`` was understood: what ranks, what restricts."""
    if pq.root is None:
        return "Empty query: nothing to search."
    lines: list[str] = []
    if pq.free_clauses:
        lines.append(f"Ranked by the free text {pq.free_text!r} (it ranks; it does not restrict).")
    elif pq.free_text:
        lines.append(f"Ranked by the untagged words of the restriction: {pq.free_text!r}.")
    else:
        lines.append("No free text: the matching records are listed newest first.")
    if pq.restriction is None:
        lines.append("No restriction: every record is a candidate.")
    else:
        lines.append("Restricted to records where:")
        lines.extend(_describe(pq.restriction, 1))
    lines.append(f"As PubMed syntax: {pq.to_pubmed()}")
    return "\n".join(lines)


def _describe(node: Node, depth: int) -> list[str]:
    pad = "  " * depth + "- "
    if isinstance(node, Term):
        return [pad + describe_term(node)]
    if isinstance(node, DateRange):
        return [pad + f"{FIELD_BY_CODE[node.field].description} from {node.start} to {node.end}"]
    if isinstance(node, Not):
        return [pad + "NOT:", *_describe(node.item, depth + 1)]
    head = "ALL of:" if isinstance(node, And) else "ANY of:"
    return [pad + head, *(line for it in node.items for line in _describe(it, depth + 1))]


def _words_phrase(t: Term) -> str:
    words = t.words
    if len(words) == 1:
        w = words[0]
        return f"a word starting with {w[:-1]!r}" if w.endswith("*") else f"the word {w!r}"
    if t.field is None and not t.quoted:
        return "each of the words " + ", ".join(repr(w) for w in words)
    return f"the phrase {t.text!r} (adjacent words; a word ending in * is a prefix, a lone * any word)"


def describe_term(t: Term) -> str:
    """One line saying what ``t`` matches."""
    spec = FIELD_BY_CODE[t.field or "all"]
    if spec.kind == "words":
        return f"{spec.description} contains {_words_phrase(t)}"
    if spec.kind == "subset":
        return f"in the subset {t.text.lower()!r}: {SUBSETS[t.text.lower()]}"
    if spec.kind == "id":
        return f"{spec.description} is {t.text!r}"
    what = f"starts with {t.text[:-1]!r}" if t.text.endswith('*') else f"is {t.text!r}"
    note = ""
    if spec.code in ("mh", "majr"):
        note = " (this descriptor itself: narrower descriptors are not included)"
    elif spec.code in ("au", "1au", "lastau"):
        note = " (initials match by prefix)"
    return f"{spec.description} {what}{note}"
