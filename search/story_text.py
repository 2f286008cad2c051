"""Text features for story grouping: URL keys, word terms, name terms, stable hashes.

Pure functions with no dependency on Whoosh: stories compare articles by the
words of their title and excerpt, so the tokenizer here is deliberately simple
and fast (a regex, a stop list, Porter's inflection steps, per-word caches),
and every term becomes a 64-bit hash so a cached feature row needs no
vocabulary.
"""

from __future__ import annotations

import functools
import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: query parameters that only track where a click came from; two URLs that
#: differ in these alone name the same article
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
    "ref", "ref_src", "ref_url", "referrer", "source", "src", "cmpid", "cmp", "ocid", "ncid",
    "smid", "sref", "share", "spm", "_ga", "_gl", "mkt_tok", "trk", "tracking", "wt.mc_id",
    "cid", "feature", "amp", "outputtype",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "itm_")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@functools.lru_cache(maxsize=1 << 16)
def normalize_url(url: str) -> str:
    """A comparison key for an article URL: scheme and host lower-cased, `www.`,
    default ports, fragments, tracking parameters and a trailing slash dropped.

    `https://www.Example.com/a/?utm_source=x&id=3#top` → `https://example.com/a?id=3`.
    Returns "" for text that is not an http(s) URL. Cached: related lists
    name the same few URLs over and over.
    """
    text = url.strip()
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:  # "http://[bad" or a port that is not a number
        return ""
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return ""
    if host.startswith("www."):
        host = host[4:]
    netloc = host if port is None or str(port) == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
    ]
    path = parts.path.rstrip("/")
    # http and https copies of one page are the same article
    return urlunsplit(("https", netloc, path, urlencode(query), ""))


# ------------------------------------------------------------------ words

STOP_WORDS = frozenset([
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
    "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
    "further", "get", "gets", "got", "had", "has", "have", "having", "he", "her", "here", "hers",
    "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself",
    "just", "let", "like", "me", "more", "most", "my", "myself", "new", "no", "nor", "not", "now", "of",
    "off", "on", "once", "one", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own",
    "same", "say", "said", "says", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "two", "under", "until", "up", "us", "very", "via", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
    "your", "yours", "yourself", "yourselves",
])

# a word: letters and digits, with inner apostrophes, dots, hyphens, & and +
_WORD = re.compile(r"[^\W_]+(?:['’.&+-][^\W_]+)*")
_INNER = re.compile(r"[.&+-]")
_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]?")


def _consonant(word: str, i: int) -> bool:
    char = word[i]
    if char in "aeiou":
        return False
    return char != "y" or i == 0 or not _consonant(word, i - 1)


def _measure(word: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in the word."""
    kinds = "".join("c" if _consonant(word, i) else "v" for i in range(len(word)))
    return kinds.count("vc")


def _has_vowel(word: str) -> bool:
    return any(not _consonant(word, i) for i in range(len(word)))


def _cvc(word: str) -> bool:
    return (len(word) >= 3 and _consonant(word, -3 % len(word)) and not _consonant(word, len(word) - 2)
            and _consonant(word, len(word) - 1) and word[-1] not in "wxy")


def stem(word: str) -> str:
    """Porter's steps 1 and 5a: inflections off, derivations kept
    ("warns", "warned", "warning" → "warn"; "exposes", "exposed" → "expos";
    "policies" → "polici"); words with digits stay as they are."""
    if len(word) <= 2 or any(c.isdigit() for c in word):
        return word
    if word.endswith("sses") or word.endswith("ies"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("eed"):
        if _measure(word[:-3]) > 0:
            word = word[:-1]
    else:
        for suffix in ("ed", "ing"):
            if word.endswith(suffix) and _has_vowel(word[:-len(suffix)]):
                word = word[:-len(suffix)]
                if word.endswith(("at", "bl", "iz")):
                    word += "e"
                elif len(word) > 1 and word[-1] == word[-2] and _consonant(word, len(word) - 1) \
                        and word[-1] not in "lsz":
                    word = word[:-1]
                elif _measure(word) == 1 and _cvc(word):
                    word += "e"
                break
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    if word.endswith("e"):
        m = _measure(word[:-1])
        if m > 1 or (m == 1 and not _cvc(word[:-1])):
            word = word[:-1]
    return word


def _split_word(raw: str) -> list[str]:
    """A raw word as lower-case parts: `A.I.` → `ai`, `AI-generated` → `ai`,
    `generated`; words with digits stay whole (`covid-19`, `99.99`)."""
    word = raw.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    if not _INNER.search(word) or any(c.isdigit() for c in word):
        return [word]
    if _ACRONYM.fullmatch(word):
        return [word.replace(".", "")]
    return _INNER.split(word)


@functools.lru_cache(maxsize=1 << 17)
def _word_terms(raw: str) -> tuple[str, ...]:
    """The terms of one raw word (cached: headlines reuse a small vocabulary).
    Acronyms are not stemmed: AWS is not the plural of "aw"."""
    if raw.isupper() and raw.isalpha():
        return () if raw.lower() in STOP_WORDS else (raw.lower(),)
    return tuple(stem(part) for part in _split_word(raw) if part and part not in STOP_WORDS)


def terms(text: str) -> list[str]:
    """The terms of a text in order: words split, lower-cased, stop words out, stemmed."""
    out: list[str] = []
    for word in _WORD.findall(text):
        out.extend(_word_terms(word))
    return out


def _looks_like_name(word: str) -> bool:
    """CamelCase or ALL-CAPS words are names wherever they stand (TensorIoT, XAPP)."""
    letters = [c for c in word if c.isalpha()]
    if len(letters) < 2:
        return False
    if all(c.isupper() for c in letters):
        return True
    return word[0].isupper() and any(c.isupper() for c in word[1:]) and any(c.islower() for c in word)


@functools.lru_cache(maxsize=1 << 17)
def _title_word(raw: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(terms, terms that look like names by their own spelling) of a title word."""
    parts = _INNER.split(raw) if len(_split_word(raw)) > 1 else [raw]
    names = tuple(t for part in parts if _looks_like_name(part) for t in _word_terms(part))
    return _word_terms(raw), names


_SENTENCE_ENDS = frozenset(".!?:;|\"“”—–")


def _capitalised_in_sentence(text: str, word: str) -> bool:
    """Whether `word` (capitalised) occurs in `text` as a whole word right
    after a space that does not follow the end of a sentence: a proper name."""
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if start >= 2 and text[start - 1] == " " and text[start - 2] not in _SENTENCE_ENDS \
                and not (end < len(text) and text[end].isalnum()):
            return True
        start = text.find(word, start + 1)
    return False


def name_terms(title: str, excerpt: str) -> set[str]:
    """Terms of the title that look like proper names.

    In a Title-Cased headline every word is capitalised, so capitals only count
    there when the word is CamelCase or all caps, or when the excerpt writes
    the same word with a capital inside a sentence. A headline's first word is
    its subject more often than not (the company of a press release); the link
    rule only counts names that are rare, which keeps "Why" and "How" out.
    """
    return _names(_WORD.findall(title), title, excerpt)


def _names(words: list[str], title: str, excerpt: str) -> set[str]:
    if not words:
        return set()
    capitalised = sum(1 for w in words if w[0].isupper())
    title_case = len(words) >= 3 and capitalised >= 0.6 * len(words)
    out: set[str] = set()
    for n, word in enumerate(words):
        word_terms, spelled_names = _title_word(word)
        out.update(spelled_names)
        if not word[0].isupper() or not word_terms:
            continue
        if n == 0 or not title_case or _capitalised_in_sentence(excerpt, word):
            out.update(word_terms)
    return out


def article_terms(title: str, excerpt: str, title_weight: int) -> tuple[dict[str, int], set[str]]:
    """Term counts of an article (each title occurrence counts `title_weight`)
    and the title's name terms, tokenising each text once."""
    words = _WORD.findall(title)
    counts: dict[str, int] = {}
    for word in words:
        for term in _word_terms(word):
            counts[term] = counts.get(term, 0) + title_weight
    for word in _WORD.findall(excerpt):
        for term in _word_terms(word):
            counts[term] = counts.get(term, 0) + 1
    return counts, _names(words, title, excerpt)


@functools.lru_cache(maxsize=1 << 18)
def term_hash(term: str) -> int:
    """A stable 64-bit hash of a term (the same in every process and run), never 0."""
    value = int.from_bytes(hashlib.blake2b(term.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                           "little")
    return value or 1


def text_hash(text: str) -> int:
    """A stable 64-bit hash of a provider name or URL key; 0 for the empty string."""
    if not text:
        return 0
    return term_hash("\x00" + text)
