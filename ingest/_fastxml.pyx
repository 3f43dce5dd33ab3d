# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The field reading of :mod:`ingest.pubmed_xml`, compiled: one record element -> its items.

A port of the reader's record handlers that walks libxml2's nodes under an
lxml element directly, instead of through lxml's Python objects: no proxy
per element, no string per tag name. It fills the same field dict and hands
it to the same ``_finish``, so the result is the same ``Article``.

It reads the common case only. Where a record holds anything else (MathML, an
entity reference, an attribute that is not plain text, a DeleteCitation...)
``parse_record`` returns None and the pure-Python reader reads the record, so
odd records cost time, never correctness. ``tests/test_fastxml.py`` checks it
against the pure-Python reader on every real record and on odd ones.

Built as an optional extension (``setup.py``); without it the pure-Python
reader does everything.
"""

from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport realloc
from libc.string cimport memcpy, strcmp, strlen

cimport lxml.includes.etreepublic as cetree
from lxml.includes cimport tree
from lxml.includes.tree cimport xmlAttr, xmlNode

cetree.import_lxml__etree()

# the pure-Python helpers and record types, bound by ingest.pubmed_xml (see ``bind``)
cdef object _int, _norm, _orcid, _date_of, _set_pub_date, _finish, _new_fields, _OTHER_ID_KIND
cdef object AbstractSection, Author, Chemical, CommentCorrection, Keyword
cdef object MeshHeading, MeshQualifier, OtherAbstract, PublicationType
cdef bint _bound = False


def bind(ns):
    """Take the helpers and record types from ``ingest.pubmed_xml``'s namespace."""
    global _int, _norm, _orcid, _date_of, _set_pub_date, _finish, _new_fields, _OTHER_ID_KIND
    global AbstractSection, Author, Chemical, CommentCorrection, Keyword
    global MeshHeading, MeshQualifier, OtherAbstract, PublicationType, _bound
    _int, _norm, _orcid = ns["_int"], ns["_norm"], ns["_orcid"]
    _date_of, _set_pub_date = ns["_date_of"], ns["_set_pub_date"]
    _finish, _new_fields, _OTHER_ID_KIND = ns["_finish"], ns["_new_fields"], ns["_OTHER_ID_KIND"]
    AbstractSection, Author, Chemical = ns["AbstractSection"], ns["Author"], ns["Chemical"]
    CommentCorrection, Keyword, MeshHeading = ns["CommentCorrection"], ns["Keyword"], ns["MeshHeading"]
    MeshQualifier, OtherAbstract, PublicationType = ns["MeshQualifier"], ns["OtherAbstract"], ns["PublicationType"]
    _bound = True


class _Unusual(Exception):
    """The record holds something this reader leaves to the pure-Python one."""


cdef object UNUSUAL = _Unusual()

# --------------------------------------------------------------------------- nodes


cdef inline bint _is(xmlNode* n, const char* name) noexcept:
    """An element of this name and no namespace: what ``el.tag == name`` tests."""
    return n.type == tree.XML_ELEMENT_NODE and n.ns is NULL and strcmp(<const char*>n.name, name) == 0


cdef inline xmlNode* _first(xmlNode* n) noexcept:
    """The first element child of ``n``, or NULL."""
    cdef xmlNode* c = n.children
    while c is not NULL and c.type != tree.XML_ELEMENT_NODE:
        c = c.next
    return c


cdef inline xmlNode* _next(xmlNode* n) noexcept:
    """The next element sibling of ``n``, or NULL."""
    cdef xmlNode* c = n.next
    while c is not NULL and c.type != tree.XML_ELEMENT_NODE:
        c = c.next
    return c


cdef const char* _value(xmlNode* n, const char* name) except? NULL:
    """The value of ``n``'s attribute ``name`` without namespace, or NULL where it has none."""
    cdef xmlAttr* a = n.properties
    cdef xmlNode* t
    while a is not NULL:
        if a.ns is NULL and strcmp(<const char*>a.name, name) == 0:
            t = a.children
            if t is NULL:
                return ""
            if t.type != tree.XML_TEXT_NODE or t.next is not NULL:
                raise UNUSUAL  # entity references in the value: lxml's own rules apply
            if t.content is NULL:
                return ""
            return <const char*>t.content
        a = a.next
    return NULL


cdef object _attr(xmlNode* n, const char* name):
    """``el.get(name)``: the attribute's value, or None."""
    cdef const char* v = _value(n, name)
    return None if v is NULL else _decode(v, strlen(v))


cdef inline bint _attr_is(xmlNode* n, const char* name, const char* value) except -1:
    """``el.get(name) == value``."""
    cdef const char* v = _value(n, name)
    return v is not NULL and strcmp(v, value) == 0


cdef inline str _decode(const char* s, Py_ssize_t size):
    return PyUnicode_DecodeUTF8(s, size, NULL)


# --------------------------------------------------------------------------- text

cdef struct Buf:
    char* data
    Py_ssize_t size
    Py_ssize_t cap


# One scratch buffer for the text being gathered. Threads cannot interleave on it: from
# the first byte appended to the string decoded from it, no Python code runs, so the GIL
# is never given up in between.
cdef Buf _buf


cdef int _reserve(Py_ssize_t extra) except -1:
    cdef Py_ssize_t want = _buf.size + extra, cap = 2 * _buf.cap
    cdef char* grown
    if want <= _buf.cap:
        return 0
    if cap < want:
        cap = want
    if cap < 4096:
        cap = 4096
    grown = <char*>realloc(_buf.data, cap)
    if grown is NULL:
        raise MemoryError()
    _buf.data, _buf.cap = grown, cap
    return 0


cdef int _append(const char* s) except -1:
    cdef Py_ssize_t n = strlen(s)
    _reserve(n)
    memcpy(_buf.data + _buf.size, s, n)
    _buf.size += n
    return 0


cdef int _collect(xmlNode* n) except -1:
    """Append the text under ``n`` as ``pubmed_xml._mixed`` flattens it (no MathML, no entities)."""
    cdef xmlNode* c = n.children
    cdef int t
    while c is not NULL:
        t = c.type
        if t == tree.XML_TEXT_NODE or t == tree.XML_CDATA_SECTION_NODE:
            if c.content is not NULL:
                _append(<const char*>c.content)
        elif t == tree.XML_ELEMENT_NODE:
            if strcmp(<const char*>c.name, "math") == 0:
                raise UNUSUAL  # MathML: pubmed_xml._math's rules
            _collect(c)
        elif t != tree.XML_COMMENT_NODE and t != tree.XML_PI_NODE:
            raise UNUSUAL  # entity references, XInclude markers
        c = c.next
    return 0


cdef inline bint _space(char c) noexcept:
    # what str.split() splits on, within ASCII
    return c == 32 or (9 <= c <= 13) or (28 <= c <= 31)


cdef str _normalised():
    """The buffer as ``" ".join(text.split())``."""
    cdef Py_ssize_t i, n = _buf.size, out = 0
    cdef char* d = _buf.data
    cdef bint ascii = True, gap = False
    for i in range(n):
        if <unsigned char>d[i] >= 128:
            ascii = False
            break
    if not ascii:  # other Unicode spaces too: leave it to str.split
        return " ".join(_decode(d, n).split())
    for i in range(n):
        if _space(d[i]):
            gap = out > 0
        else:
            if gap:
                d[out] = 32
                out += 1
                gap = False
            d[out] = d[i]
            out += 1
    return _decode(d, out)


cdef str _text(xmlNode* n):
    """``pubmed_xml._text``: all descendant text, inline markup flattened, whitespace normalised."""
    _buf.size = 0
    _collect(n)
    return _normalised()


cdef object _lead(xmlNode* n):
    """``el.text``: the text before the first child element, or None if there is none."""
    cdef xmlNode* c = n.children
    cdef int count = 0, t
    _buf.size = 0
    while c is not NULL:
        t = c.type
        if t == tree.XML_TEXT_NODE or t == tree.XML_CDATA_SECTION_NODE:
            if c.content is not NULL:
                _append(<const char*>c.content)
            count += 1
        elif t == tree.XML_XINCLUDE_START or t == tree.XML_XINCLUDE_END:
            raise UNUSUAL
        else:
            break
        c = c.next
    if count == 0:
        return None
    return _decode(_buf.data, _buf.size)


cdef inline object _opt(str s):
    return s if s else None


cdef inline object _make(cls, tuple values):
    return tuple.__new__(cls, values)


# --------------------------------------------------------------------------- record parts


cdef tuple _abstract_sections(xmlNode* el, dict f):
    cdef list out = []
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "AbstractText"):
            out.append(_make(AbstractSection, (_text(ch), _attr(ch, "Label"), _attr(ch, "NlmCategory"))))
        elif f is not None and _is(ch, "CopyrightInformation"):
            f["copyright"] = _opt(_text(ch))
        ch = _next(ch)
    return tuple(out)


cdef object _author(xmlNode* el):
    last = fore = initials = suffix = collective = orcid = None
    cdef list affiliations = []
    cdef xmlNode* ch = _first(el)
    cdef xmlNode* a
    while ch is not NULL:
        if _is(ch, "LastName"):
            last = _text(ch)
        elif _is(ch, "ForeName") or _is(ch, "FirstName"):
            fore = _text(ch)
        elif _is(ch, "Initials"):
            initials = _text(ch)
        elif _is(ch, "AffiliationInfo"):
            a = _first(ch)
            while a is not NULL:
                if _is(a, "Affiliation"):
                    affiliations.append(_text(a))
                a = _next(a)
        elif _is(ch, "Identifier"):
            if _attr_is(ch, "Source", "ORCID"):
                orcid = _orcid(_lead(ch))
        elif _is(ch, "Suffix"):
            suffix = _text(ch)
        elif _is(ch, "CollectiveName"):
            collective = _text(ch)
        elif _is(ch, "Affiliation"):
            affiliations.append(_text(ch))
        ch = _next(ch)
    return _make(Author, (
        last or None, fore or None, initials or None, suffix or None, collective or None,
        orcid, tuple([x for x in affiliations if x]), _attr_is(el, "EqualContrib", "Y"),
    ))


cdef _author_list(xmlNode* el, dict f):
    cdef list authors = []
    cdef xmlNode* a = _first(el)
    while a is not NULL:
        if _is(a, "Author"):
            authors.append(_author(a))
        a = _next(a)
    key = "_editors" if _attr_is(el, "Type", "editors") else "authors"
    f[key].extend(authors)


cdef _pub_date(xmlNode* el, dict f):
    year = month = day = season = medline = None
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "Year"):
            year = _norm(_lead(ch))
        elif _is(ch, "Month"):
            month = _norm(_lead(ch))
        elif _is(ch, "Day"):
            day = _norm(_lead(ch))
        elif _is(ch, "MedlineDate"):
            medline = _norm(_lead(ch))
        elif _is(ch, "Season"):
            season = _norm(_lead(ch))
        ch = _next(ch)
    _set_pub_date(f, year, month, day, season, medline)


cdef _journal(xmlNode* el, dict f):
    cdef xmlNode* ch = _first(el)
    cdef xmlNode* j
    while ch is not NULL:
        if _is(ch, "JournalIssue"):
            j = _first(ch)
            while j is not NULL:
                if _is(j, "Volume"):
                    f["volume"] = _opt(_text(j))
                elif _is(j, "Issue"):
                    f["issue"] = _opt(_text(j))
                elif _is(j, "PubDate"):
                    _pub_date(j, f)
                j = _next(j)
        elif _is(ch, "Title"):
            f["journal_title"] = _opt(_text(ch))
        elif _is(ch, "ISOAbbreviation"):
            f["journal_iso"] = _opt(_text(ch))
        elif _is(ch, "ISSN"):
            f["issn"] = _opt(_text(ch))
        ch = _next(ch)


cdef _pagination(xmlNode* el, dict f):
    start = end = None
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "MedlinePgn"):
            pgn = _text(ch)
            if pgn:
                f["pages"] = pgn
                return
        elif _is(ch, "StartPage"):
            start = _text(ch)
        elif _is(ch, "EndPage"):
            end = _text(ch)
        ch = _next(ch)
    if start:
        f["pages"] = f"{start}-{end}" if end else start


cdef _elocation(xmlNode* el, dict f):
    kind = _attr(el, "EIdType") or "elocation"
    value = _text(el)
    if value:
        f["_eloc_ids"].append((kind, value))
        if not _attr_is(el, "ValidYN", "N"):
            f["_eloc"].setdefault(kind, value)


cdef _article_ids(xmlNode* el, dict f):
    cdef list ids = f["_ids"]
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "ArticleId"):
            value = _text(ch)
            if value:
                ids.append((_attr(ch, "IdType") or "unknown", value))
        ch = _next(ch)


cdef _other_id(xmlNode* el, dict f):
    value = _text(el)
    m = _OTHER_ID_KIND.match(value)
    if m:
        f["_ids"].append(("pmc" if m.group(1) == "PMC" else "mid", m.group(0)))
    elif value:
        f["_ids"].append((f"other:{_attr(el, 'Source') or 'unknown'}", value))


cdef object _ymd(xmlNode* el):
    y = m = d = None
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "Year"):
            y = _lead(ch)
        elif _is(ch, "Month"):
            m = _lead(ch)
        elif _is(ch, "Day"):
            d = _lead(ch)
        ch = _next(ch)
    return _date_of(y, m, d)


cdef _article_date(xmlNode* el, dict f):
    if f["article_date"] is None or _attr_is(el, "DateType", "Electronic"):
        d = _ymd(el)
        if d is not None:
            f["article_date"] = d


cdef _pub_types(xmlNode* el, dict f):
    cdef list out = f["publication_types"]
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "PublicationType"):
            out.append(_make(PublicationType, (_text(ch), _attr(ch, "UI"))))
        ch = _next(ch)


cdef _article(xmlNode* el, dict f):
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "Journal"):
            _journal(ch, f)
        elif _is(ch, "ArticleTitle"):
            f["title"] = _text(ch)
        elif _is(ch, "Pagination"):
            _pagination(ch, f)
        elif _is(ch, "ELocationID"):
            _elocation(ch, f)
        elif _is(ch, "Abstract"):
            f["abstract"] = _abstract_sections(ch, f)
        elif _is(ch, "AuthorList"):
            _author_list(ch, f)
        elif _is(ch, "Language"):
            lang = _text(ch)
            if lang:
                f["languages"].append(lang)
        elif _is(ch, "PublicationTypeList"):
            _pub_types(ch, f)
        elif _is(ch, "VernacularTitle"):
            f["vernacular_title"] = _opt(_text(ch))
        elif _is(ch, "ArticleDate"):
            _article_date(ch, f)
        elif _is(ch, "Affiliation"):
            f["_affiliation"] = _opt(_text(ch))
        ch = _next(ch)


cdef _mesh_list(xmlNode* el, dict f):
    cdef list out = f["mesh_headings"]
    cdef list quals
    cdef xmlNode* mh = _first(el)
    cdef xmlNode* ch
    cdef xmlNode* descriptor
    while mh is not NULL:
        if _is(mh, "MeshHeading"):
            descriptor = NULL
            quals = []
            ch = _first(mh)
            while ch is not NULL:
                if _is(ch, "QualifierName"):
                    quals.append(_make(MeshQualifier, (_text(ch), _attr(ch, "UI"), _attr_is(ch, "MajorTopicYN", "Y"))))
                elif _is(ch, "DescriptorName"):
                    descriptor = ch
                ch = _next(ch)
            if descriptor is not NULL:
                out.append(_make(MeshHeading, (
                    _text(descriptor), _attr(descriptor, "UI"),
                    _attr_is(descriptor, "MajorTopicYN", "Y"), tuple(quals),
                )))
        mh = _next(mh)


cdef _keyword_list(xmlNode* el, dict f):
    owner = _attr(el, "Owner")
    cdef list out = f["keywords"]
    cdef xmlNode* kw = _first(el)
    while kw is not NULL:
        if _is(kw, "Keyword"):
            text = _text(kw)
            if text:
                out.append(_make(Keyword, (text, _attr_is(kw, "MajorTopicYN", "Y"), owner)))
        kw = _next(kw)


cdef _chemical_list(xmlNode* el, dict f):
    cdef list out = f["chemicals"]
    cdef xmlNode* chem = _first(el)
    cdef xmlNode* ch
    while chem is not NULL:
        if _is(chem, "Chemical"):
            name = ui = reg = None
            ch = _first(chem)
            while ch is not NULL:
                if _is(ch, "NameOfSubstance"):
                    name, ui = _text(ch), _attr(ch, "UI")
                elif _is(ch, "RegistryNumber"):
                    reg = _text(ch)
                ch = _next(ch)
            if name:
                out.append(_make(Chemical, (name, ui, reg if reg and reg != "0" else None)))
        chem = _next(chem)


cdef _comments_corrections(xmlNode* el, dict f):
    cdef list out = f["comments_corrections"]
    cdef xmlNode* cc = _first(el)
    cdef xmlNode* ch
    while cc is not NULL:
        if _is(cc, "CommentsCorrections"):
            source = pmid = None
            ch = _first(cc)
            while ch is not NULL:
                if _is(ch, "RefSource"):
                    source = _text(ch)
                elif _is(ch, "PMID"):
                    pmid = _text(ch)
                ch = _next(ch)
            out.append(_make(CommentCorrection, (_attr(cc, "RefType") or "", source or None, pmid or None)))
        cc = _next(cc)


cdef _pmid(xmlNode* el, dict f):
    f["pmid"] = _text(el)
    f["pmid_version"] = _int(_attr(el, "Version")) or 1


cdef _journal_info(xmlNode* el, dict f):
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "ISSNLinking"):
            f["issn_linking"] = _opt(_text(ch))
        elif _is(ch, "MedlineTA"):
            f["_extra"].append(("medline_ta", _text(ch)))
        elif _is(ch, "NlmUniqueID"):
            f["_extra"].append(("nlm_unique_id", _text(ch)))
        ch = _next(ch)


cdef _medline_citation(xmlNode* el, dict f):
    f["status"] = _attr(el, "Status")
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "PMID"):
            _pmid(ch, f)
        elif _is(ch, "Article"):
            _article(ch, f)
        elif _is(ch, "MeshHeadingList"):
            _mesh_list(ch, f)
        elif _is(ch, "CommentsCorrectionsList"):
            _comments_corrections(ch, f)
        elif _is(ch, "KeywordList"):
            _keyword_list(ch, f)
        elif _is(ch, "ChemicalList"):
            _chemical_list(ch, f)
        elif _is(ch, "DateRevised"):
            f["date_revised"] = _ymd(ch)
        elif _is(ch, "MedlineJournalInfo"):
            _journal_info(ch, f)
        elif _is(ch, "OtherAbstract"):
            f["other_abstracts"].append(_make(OtherAbstract, (
                _abstract_sections(ch, None), _attr(ch, "Type"), _attr(ch, "Language"))))
        elif _is(ch, "OtherID"):
            _other_id(ch, f)
        ch = _next(ch)


cdef _pubmed_data(xmlNode* el, dict f):
    cdef xmlNode* ch = _first(el)
    while ch is not NULL:
        if _is(ch, "ArticleIdList"):
            _article_ids(ch, f)
        elif _is(ch, "PublicationStatus"):
            f["_extra"].append(("publication_status", _text(ch)))
        ch = _next(ch)


# --------------------------------------------------------------------------- one record


def parse_record(cetree._Element el, where):
    """``pubmed_xml._parse_record`` for a ``PubmedArticle`` or ``MedlineCitation``.

    None where the pure-Python reader must read the record instead: another
    kind of record, anything unusual in it, or any error (whose Problem the
    pure-Python reader words).
    """
    cdef xmlNode* n = el._c_node
    cdef xmlNode* ch
    if not _bound or n.ns is not NULL:
        return None
    cdef dict f
    try:
        f = _new_fields()
        f["record_type"] = "article"
        if strcmp(<const char*>n.name, "MedlineCitation") == 0:
            _medline_citation(n, f)
        elif strcmp(<const char*>n.name, "PubmedArticle") == 0:
            ch = _first(n)
            while ch is not NULL:
                if _is(ch, "MedlineCitation"):
                    _medline_citation(ch, f)
                elif _is(ch, "PubmedData"):
                    _pubmed_data(ch, f)
                elif _is(ch, "BookDocument") or _is(ch, "PubmedBookData"):
                    return None  # a book part in an article: the pure-Python reader's mix
                ch = _next(ch)
        else:
            return None
        if not f["pmid"]:
            return None
        return [_finish(f)]
    except Exception:
        return None
