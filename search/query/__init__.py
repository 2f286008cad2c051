"""What a query means: the model, the parser, date bounds and filters."""

from .dates import DATE_HELP, parse_date_bound, to_naive_utc
from .model import Filters, ParsedQuery, describe
from .parser import FIELD_ALIASES, MATCH_MODES, QUERY_FIELDS, parse_query

__all__ = ["DATE_HELP", "FIELD_ALIASES", "MATCH_MODES", "QUERY_FIELDS", "Filters", "ParsedQuery",
           "describe", "parse_date_bound", "parse_query", "to_naive_utc"]
