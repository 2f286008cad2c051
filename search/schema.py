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
SCHEMA_VERSION = 3
# 2: Snowball (Porter2) stemming instead of Porter
# 3: own analyzer (short stop list, names and numbers unstemmed), the `words`
#    vocabulary field, HTML entities decoded in titles, excerpts and providers

#: the fields plain query words search, with their query-time weights
TEXT_FIELDS = ("title", "excerpt", "topics")

#: column value meaning "no value" (sorts last, counted nowhere)
MISSING = -(2**63)
MISSING32 = -(2**31)

#: separator for multi-valued column values (topics); never in corpus text
MULTI_SEP = "\x1f"


def text_analyzer() -> Any:
    """The analyzer of the ranked text fields (see `search.analysis`)."""
    from .analysis import news_analyzer

    return news_analyzer()


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

    from .analysis import news_analyzer

    analyzer = news_analyzer()
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
        # every distinct word of title, excerpt and topics as written (lower-
        # cased, unstemmed, no frequencies): the vocabulary that prefixes
        # (`vulnerab*`) and typo tolerance match against
        words=KEYWORD(analyzer=news_analyzer(surface=True), scorable=False),
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
