"""BERT WordPiece tokenisation in pure Python, identical to Hugging Face ``tokenizers``.

The packaged MiniLM embedder and the packaged reranker both read the uncased BERT
tokenizer in ``search/models/minilm/tokenizer.json``. :class:`WordPiece` reads such a
``tokenizer.json`` (vocabulary, special tokens, post-processing template) and encodes
texts or ``(a, b)`` pairs into numpy ``int64`` ids, attention mask and type ids, padded
to the longest of the batch, so that the default install needs no ``tokenizers``
(and no huggingface-hub, hf-xet, pyyaml, fsspec it pulls).

It follows ``tokenizers`` (0.20-0.23, Rust source) step by step:

1. special tokens (``added_tokens``, ``normalized: false``) are cut out of the raw text;
2. ``BertNormalizer``: clean text (drop NUL, U+FFFD and control/format/private-use
   characters other than tab, newline and carriage return; every whitespace to a space),
   spaces around CJK ideographs, strip accents (NFD, drop non-spacing marks) when
   ``strip_accents`` is true or unset with ``lowercase``, lowercase char by char (so a
   final capital sigma becomes ``σ``, as in Rust, not ``ς`` as ``str.lower`` gives);
3. ``BertPreTokenizer``: split on whitespace (Rust's ``char::is_whitespace``), isolate each
   punctuation character (ASCII punctuation or Unicode category P*);
4. WordPiece: greedy longest match first with ``##`` continuations, ``[UNK]`` for a word
   longer than ``max_input_chars_per_word`` or with any piece not in the vocabulary
   (cached per word);
5. truncation before the template's special tokens are added: a single text keeps its
   first ``max_length - 2`` tokens; a pair ``longest_first`` as ``truncate_encodings``
   does it (the shorter keeps all it can, else both are cut to half of the room, the
   longer, or the second on a tie, getting the odd token);
6. the template (``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]``, type ids 0 then 1) and
   right padding with ``[PAD]`` (mask 0, type id 0).

``tests/test_wordpiece.py`` checks ids, masks and type ids against ``tokenizers`` on every
NFCorpus and SciFact document and query, every Unicode code point and hand-written hard cases.

Speed (``python bench/bench_wordpiece.py --docs 3000 --rounds 2``: 3,000 real NFCorpus and
SciFact abstracts in batches of 32, best of 2 rounds, texts/s, this 2-core VM under load):

=============  ======  ======================  ====================
input          ours    tokenizers (1 thread)   tokenizers (threads)
=============  ======  ======================  ====================
single, 256    448     367                     435
pair, 128      912     447                     469
=============  ======  ======================  ====================

About 2 ms per abstract (``tokenizers`` also builds offsets and the overflowing part of
each truncated text), against ~150 ms per abstract for the int8 embedding itself (~6-8
abstracts/s here): indexing is not slower. Loading the tokenizer takes ~0.3 s.

Where :class:`WordPiece` refuses a ``tokenizer.json`` (another model, normalizer or
pre-tokenizer), :func:`load_tokenizer` uses ``tokenizers`` when it is installed (the
``torch`` extra brings it) and otherwise raises the :class:`ConfigError` saying so.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.errors import ConfigError
from search.retrieval import _bert_chars
from search.retrieval._bert_chars import parse

_HINT = (
    "This tokenizer.json is not an uncased-BERT-style WordPiece tokenizer that the built-in "
    "tokenizer reads; install the `torch` extra (pip install 'medsearch[torch]') or "
    "`pip install tokenizers` and use a sentence-transformers model instead."
)

#: Rust's ``char::is_whitespace`` (the Unicode White_Space property).
_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: ``is_chinese_char`` of tokenizers' BertNormalizer.
_CJK = (
    "\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002a6df\U0002a700-\U0002b73f"
    "\U0002b740-\U0002b81f\U0002b920-\U0002ceaf\uf900-\ufaff\U0002f800-\U0002fa1f"
)
_ASCII_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _class(ranges: list[tuple[int, int]]) -> str:
    """A regex character class body for inclusive code point ranges."""
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )


@dataclass(frozen=True, slots=True)
class _Tables:
    drop: re.Pattern[str]  # clean_text's removed characters
    space: re.Pattern[str]  # whitespace, mapped to " "
    cjk: re.Pattern[str]
    marks: re.Pattern[str]  # Mn
    words: re.Pattern[str]  # pre-tokens: a punctuation char, or a run of other non-space chars


@cache
def _tables() -> _Tables:
    """The character classes of tokenizers' Bert normalizer and pre-tokenizer (see _bert_chars)."""
    kept = {0x09, 0x0A, 0x0D}  # tab, newline, carriage return: whitespace, not dropped
    drop = [(c, c) for lo, hi in parse(_bert_chars.OTHER) for c in range(lo, hi + 1) if c not in kept]
    drop += [(0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD), (0xFFFD, 0xFFFD)]
    punct = _class(parse(_bert_chars.PUNCTUATION)) + re.escape(_ASCII_PUNCT)
    return _Tables(
        drop=re.compile(f"[{_class(drop)}]+"),
        space=re.compile(f"[{_WHITESPACE}]"),
        cjk=re.compile(f"([{_CJK}])"),
        marks=re.compile(f"[{_class(parse(_bert_chars.NONSPACING_MARKS))}]+"),
        words=re.compile(f"[{punct}]|[^{punct}{_WHITESPACE}]+"),
    )


_ASCII_DROP = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")  # Cc but tab, LF, CR
_ASCII_SPACE = str.maketrans("\t\n\r", "   ")
_ASCII_WORDS = re.compile(f"[{re.escape(_ASCII_PUNCT)}]|[^{re.escape(_ASCII_PUNCT)}\t\n\x0b\x0c\r ]+")


@dataclass(frozen=True, slots=True)
class Encoded:
    """A padded batch: ``(n, longest)`` int64 arrays."""

    ids: np.ndarray
    attention_mask: np.ndarray
    type_ids: np.ndarray


class WordPiece:
    """The tokenizer of a BERT ``tokenizer.json``; see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read the tokenizer {path}: {exc}", hint=_HINT) from exc
        self.path = path
        model = spec.get("model") or {}
        normalizer = spec.get("normalizer") or {}
        pre = spec.get("pre_tokenizer") or {}
        if model.get("type") != "WordPiece":
            raise ConfigError(
                f"{path}: the tokenizer model is {model.get('type')!r}, not WordPiece.", hint=_HINT
            )
        if normalizer.get("type") != "BertNormalizer":
            raise ConfigError(
                f"{path}: the normalizer is {normalizer.get('type')!r}, not BertNormalizer.",
                hint=_HINT,
            )
        if pre.get("type") != "BertPreTokenizer":
            raise ConfigError(
                f"{path}: the pre-tokenizer is {pre.get('type')!r}, not BertPreTokenizer.",
                hint=_HINT,
            )
        self.vocab: dict[str, int] = {str(k): int(v) for k, v in model["vocab"].items()}
        self.unk_id = self.vocab[model.get("unk_token", "[UNK]")]
        self.prefix = str(model.get("continuing_subword_prefix", "##"))
        self.max_word_chars = int(model.get("max_input_chars_per_word", 100))
        self.clean_text = bool(normalizer.get("clean_text", True))
        self.chinese = bool(normalizer.get("handle_chinese_chars", True))
        self.lowercase = bool(normalizer.get("lowercase", True))
        strip = normalizer.get("strip_accents")
        self.strip_accents = self.lowercase if strip is None else bool(strip)
        specials: dict[str, int] = {}
        for token in spec.get("added_tokens") or []:
            if token.get("normalized") or token.get("lstrip") or token.get("rstrip") or token.get(
                "single_word"
            ):
                raise ConfigError(
                    f"{path}: the added token {token.get('content')!r} is normalized or "
                    "strips/matches whole words, which the built-in tokenizer does not do.",
                    hint=_HINT,
                )
            specials[str(token["content"])] = int(token["id"])
        self.specials = specials
        self._special_re = (
            re.compile("|".join(re.escape(t) for t in sorted(specials, key=len, reverse=True)))
            if specials
            else None
        )
        self.single, self.pair = self._template(spec.get("post_processor"))
        self.pad_id = self.vocab.get("[PAD]", 0)
        self._word = lru_cache(maxsize=1 << 17)(self._wordpiece)

    def _template(
        self, post: dict[str, Any] | None
    ) -> tuple[list[tuple[int | str, int]], list[tuple[int | str, int]]]:
        """(single, pair) templates: items are (special token id | "A" | "B", type id)."""
        if post is None:
            return [("A", 0)], [("A", 0), ("B", 1)]
        kind = post.get("type")
        if kind == "BertProcessing":
            cls, sep = int(post["cls"][1]), int(post["sep"][1])
            return [(cls, 0), ("A", 0), (sep, 0)], [(cls, 0), ("A", 0), (sep, 0), ("B", 1), (sep, 1)]
        if kind != "TemplateProcessing":
            raise ConfigError(f"{self.path}: unsupported post-processor {kind!r}.", hint=_HINT)
        ids = {name: tok["ids"] for name, tok in post.get("special_tokens", {}).items()}

        def parse(items: list[dict[str, Any]]) -> list[tuple[int | str, int]]:
            out: list[tuple[int | str, int]] = []
            for item in items:
                if "SpecialToken" in item:
                    special = item["SpecialToken"]
                    for i in ids[special["id"]]:
                        out.append((int(i), int(special["type_id"])))
                else:
                    seq = item["Sequence"]
                    out.append((str(seq["id"]), int(seq["type_id"])))
            return out

        return parse(post["single"]), parse(post["pair"])

    # -- normalisation and pre-tokenisation ------------------------------------------------

    def normalize(self, text: str) -> str:
        """``BertNormalizer`` on a text without special tokens."""
        if text.isascii():
            if self.clean_text:
                text = _ASCII_DROP.sub("", text).translate(_ASCII_SPACE)
            return text.lower() if self.lowercase else text
        tables = _tables()
        if self.clean_text:
            text = tables.space.sub(" ", tables.drop.sub("", text))
        if self.chinese:
            text = tables.cjk.sub(r" \1 ", text)
        if self.strip_accents:
            text = tables.marks.sub("", unicodedata.normalize("NFD", text))
        if self.lowercase:
            # char by char like Rust's char::to_lowercase: no final-sigma rule
            text = text.replace("\u03a3", "\u03c3").lower()
        return text

    @staticmethod
    def _words(text: str) -> list[str]:
        if text.isascii():
            return _ASCII_WORDS.findall(text)
        return _tables().words.findall(text)

    def _wordpiece(self, word: str) -> tuple[int, ...]:
        if len(word) > self.max_word_chars:
            return (self.unk_id,)
        vocab, prefix = self.vocab, self.prefix
        out: list[int] = []
        start, n = 0, len(word)
        while start < n:
            end = n
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else prefix + word[start:end]
                found = vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self.unk_id,)
            out.append(found)
            start = end
        return tuple(out)

    def tokenize(self, text: str) -> list[int]:
        """Ids of ``text`` without special tokens, truncation or padding."""
        ids: list[int] = []
        word = self._word
        pieces = [text] if self._special_re is None or "[" not in text else None
        if pieces is None:
            assert self._special_re is not None
            pieces = []
            last = 0
            for m in self._special_re.finditer(text):
                pieces.append(text[last : m.start()])
                pieces.append(m.group())
                last = m.end()
            pieces.append(text[last:])
        for piece in pieces:
            special = self.specials.get(piece) if self._special_re is not None else None
            if special is not None:
                ids.append(special)
                continue
            for w in self._words(self.normalize(piece)):
                ids.extend(word(w))
        return ids

    # -- encoding --------------------------------------------------------------------------

    def encode(self, a: str, b: str | None, max_length: int | None) -> tuple[list[int], list[int]]:
        """(ids, type ids) of one text or pair, truncated to ``max_length`` tokens in all."""
        template = self.single if b is None else self.pair
        first = self.tokenize(a)
        second = self.tokenize(b) if b is not None else None
        if max_length is not None:
            room = max_length - sum(1 for t, _ in template if isinstance(t, int))
            if room < 0:
                raise ValueError(f"max_length {max_length} leaves no room for the special tokens")
            first, second = _truncate(first, second, room)
        ids: list[int] = []
        types: list[int] = []
        for item, type_id in template:
            seq = [item] if isinstance(item, int) else (first if item == "A" else second or [])
            ids.extend(seq)
            types.extend([type_id] * len(seq))
        return ids, types

    def encode_batch(
        self, inputs: Sequence[str] | Sequence[tuple[str, str]], max_length: int | None = None
    ) -> Encoded:
        """Texts or ``(a, b)`` pairs, each truncated to ``max_length``, padded to the longest."""
        rows = [
            self.encode(x, None, max_length) if isinstance(x, str) else self.encode(x[0], x[1], max_length)
            for x in inputs
        ]
        width = max((len(r[0]) for r in rows), default=0)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        types = np.zeros((len(rows), width), dtype=np.int64)
        for i, (row_ids, row_types) in enumerate(rows):
            n = len(row_ids)
            ids[i, :n] = row_ids
            mask[i, :n] = 1
            types[i, :n] = row_types
        return Encoded(ids=ids, attention_mask=mask, type_ids=types)


def _truncate(
    first: list[int], second: list[int] | None, room: int
) -> tuple[list[int], list[int] | None]:
    """tokenizers' ``truncate_encodings``, direction right, stride 0."""
    if second is None:
        return first[:room], None
    if len(first) + len(second) <= room:
        return first, second
    if room == 0:
        return [], []
    n1, n2 = len(first), len(second)
    swap = n1 > n2
    if swap:
        n1, n2 = n2, n1
    n2 = n1 if n1 > room else max(n1, room - n1)
    if n1 + n2 > room:
        n1 = room // 2
        n2 = n1 + room % 2
    if swap:
        n1, n2 = n2, n1
    return first[:n1], second[:n2]


class BatchTokenizer(Protocol):
    """What OnnxEncoder and OnnxReranker call: texts or pairs in, a padded batch out."""

    def encode_batch(
        self, inputs: Sequence[str] | Sequence[tuple[str, str]], max_length: int | None = None
    ) -> Encoded: ...


class HFTokenizer:
    """Hugging Face ``tokenizers`` behind the same interface, for a tokenizer.json that
    :class:`WordPiece` does not read (needs ``tokenizers``: the ``torch`` extra brings it)."""

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._pad_id = self._tok.token_to_id("[PAD]") or 0
        self._max_length: int | None = -1

    def encode_batch(
        self, inputs: Sequence[str] | Sequence[tuple[str, str]], max_length: int | None = None
    ) -> Encoded:
        if max_length != self._max_length:
            if max_length is None:
                self._tok.no_truncation()
            else:
                self._tok.enable_truncation(max_length, strategy="longest_first")
            self._tok.enable_padding(pad_id=self._pad_id, pad_token="[PAD]")
            self._max_length = max_length
        encs = self._tok.encode_batch(list(inputs))
        return Encoded(
            ids=np.array([e.ids for e in encs], dtype=np.int64).reshape(len(encs), -1),
            attention_mask=np.array([e.attention_mask for e in encs], dtype=np.int64).reshape(
                len(encs), -1
            ),
            type_ids=np.array([e.type_ids for e in encs], dtype=np.int64).reshape(len(encs), -1),
        )


def load_tokenizer(path: str | Path) -> BatchTokenizer:
    """:class:`WordPiece` for a BERT tokenizer.json (no dependency); any other one through
    ``tokenizers`` where installed, else the ConfigError saying what to install."""
    try:
        return WordPiece(path)
    except ConfigError as refused:
        if not Path(path).is_file():
            raise
        try:
            import tokenizers  # noqa: F401
        except ImportError:
            raise refused from None
        return HFTokenizer(path)
