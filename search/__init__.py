"""Full-text search over a news corpus of Markdown articles (Whoosh-based).

The public API: `search.searcher.Searcher` and `SearchRequest` for queries,
`search.indexer.build_index` for indexing, `search.documents` for reading
corpus files. Nothing is imported here so `search query` starts fast.
"""

__version__ = "0.1.0"
