"""The Whoosh schema: which article fields are searched, filtered, sorted, shown.

Text fields (title, excerpt, topics) are stemmed for ranked search. Filter and
facet fields are lower-cased whole values so `provider:"the guardian"` matches
"The Guardian"; their display form lives in columns, which also make facet
counting and sorting cheap (no stored-field decoding per hit).
"""

from __future__ import annotations

from typing import Any

#: bump when the schema or the meaning of a field changes: older indexes then
#: fail with "rebuild with --full" instead of giving wrong answers
SCHEMA_VERSION = 2  # 2: Snowball (Porter2) stemming instead of Porter

#: the fields plain query words search, with their query-time weights
TEXT_FIELDS = ("title", "excerpt", "topics")

#: column value meaning "no value" (sorts last, counted nowhere)
MISSING = -(2**63)
MISSING32 = -(2**31)

#: separator for multi-valued column values (topics); never in corpus text
MULTI_SEP = "\x1f"


def stem_word(word: str) -> str:
    """English Snowball (Porter2) stem of a lower-case word.

    Not the original Porter stemmer: in a news corpus it conflates "news"
    with "new" and "uses" with the stop word "us".
    """
    from whoosh.lang.snowball.english import EnglishStemmer

    global _STEMMER
    if _STEMMER is None:
        _STEMMER = EnglishStemmer()
    return _STEMMER.stem(word)


_STEMMER: Any = None


def text_analyzer() -> Any:
    """English analyzer: word tokens, lower-case, stop words out, Snowball stems.

    The analyzer is pickled into the index's schema; `stem_word` is a module
    function so it pickles by reference.
    """
    from whoosh.analysis import StemmingAnalyzer

    return StemmingAnalyzer(stemfn=stem_word, minsize=1)


def multi_value_analyzer() -> Any:
    """Whole values separated by MULTI_SEP, lower-cased: topic names may hold
    commas and spaces, so neither can be the separator."""
    from whoosh.analysis import LowercaseFilter, RegexTokenizer, StripFilter

    return RegexTokenizer(r"[^\x1f]+") | StripFilter() | LowercaseFilter()


def build_schema() -> Any:
    """Return a fresh Whoosh Schema for article documents."""
    from whoosh import columns
    from whoosh.analysis import IDAnalyzer
    from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

    analyzer = text_analyzer()
    return Schema(
        # identity and change detection
        uid=ID(unique=True, sortable=True),  # corpus root + relative path
        path=ID(stored=True, sortable=True),
        root=ID(stored=True),
        stamp=COLUMN(columns.VarBytesColumn()),  # "size:mtime_ns:sha1"
        # ranked text
        title=TEXT(analyzer=analyzer, stored=True, field_boost=1.0),
        excerpt=TEXT(analyzer=analyzer, stored=True),
        topics=TEXT(analyzer=analyzer),
        # filters and range queries (lower-cased whole values)
        provider=ID(analyzer=IDAnalyzer(lowercase=True)),
        topic=KEYWORD(analyzer=multi_value_analyzer()),
        published=DATETIME(stored=True),
        year=NUMERIC(int, bits=32, signed=True),
        quality=NUMERIC(int, bits=32, stored=True, signed=True),
        type=ID(analyzer=IDAnalyzer(lowercase=True), stored=True),
        category=ID(analyzer=IDAnalyzer(lowercase=True), stored=True),
        # per-document columns for facets and sorting; MISSING marks no value
        provider_name=COLUMN(columns.RefBytesColumn()),
        topic_names=COLUMN(columns.VarBytesColumn()),
        ts=COLUMN(columns.NumericColumn("q", default=MISSING)),
        year_col=COLUMN(columns.NumericColumn("i", default=MISSING32)),
        quality_col=COLUMN(columns.NumericColumn("i", default=MISSING32)),
        # display only
        provider_domain=STORED(),
        topics_list=STORED(),
        url=STORED(),
        original_url=STORED(),
    )
