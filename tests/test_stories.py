"""Story grouping (search/stories.py and its helpers): URL keys, terms, the link
rule (window, providers, rare evidence, related evidence, name veto),
determinism and id stability, incremental updates equal to full builds, the
feature and index formats, and the gold file of bench/stories.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import json
import random
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import SHARED_CORPUS, article_text
from hypothesis import given, settings
from hypothesis import strategies as st

from search.documents import parse_article
from search.errors import IndexCorruptError, IndexIncompatibleError
from search.stories import (
    StoryDoc,
    StoryFeatures,
    StoryIndex,
    StoryParams,
    changed_stories,
    cluster_stories,
    doc_features,
    story_doc,
)
from search.story_links import explain_pair
from search.story_text import name_terms, normalize_url, stem, terms

REPO = Path(__file__).resolve().parents[1]
BASE = dt.datetime(2021, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def _load_bench(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "stories.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------- synthetic corpora

_SYLLABLES = ["ka", "lo", "mi", "ren", "tus", "vo", "zan", "pel", "qui", "dor", "fa", "gim", "hu", "jex",
              "nor", "sab", "tri", "ul", "wen", "yar"]


def pseudo_words(rng: random.Random, count: int) -> list[str]:
    """Distinct made-up words (so every test controls its own vocabulary)."""
    out: set[str] = set()
    while len(out) < count:
        out.add("".join(rng.choice(_SYLLABLES) for _ in range(3)))
    return sorted(out)


def doc(key: str, title: str, excerpt: str = "", provider: str = "Outlet A", day: float | None = 0.0,
        url: str = "", related: tuple[str, ...] = ()) -> StoryDoc:
    published = None if day is None else BASE + dt.timedelta(days=day)
    return StoryDoc(key, title, excerpt, provider, published, normalize_url(url),
                    tuple(normalize_url(u) for u in related))


def filler(count: int, seed: int = 7) -> list[StoryDoc]:
    """Unrelated articles spread over a year: they give the IDF something to count."""
    rng = random.Random(seed)
    vocab = pseudo_words(rng, 400)
    return [doc(f"filler/{i:03d}.md", " ".join(rng.sample(vocab, 7)), " ".join(rng.sample(vocab, 20)),
                provider=f"Filler {i % 9}", day=rng.uniform(-180, 180)) for i in range(count)]


def linked(docs: list[StoryDoc], a: str, b: str, params: StoryParams | None = None) -> bool:
    stories = cluster_stories(docs, params)
    return stories[a] == stories[b]


def explain(docs: list[StoryDoc], a: str, b: str, params: StoryParams | None = None):
    index = StoryIndex.build((doc_features(d) for d in docs), params)
    keys = list(index.table.keys)
    return explain_pair(index.table, index.vocab, index.params, keys.index(a), keys.index(b))


SPACE_TITLE = "Orbitex launches Zarnova satellite cloud with Quelmar"
SPACE_TEXT = "Orbitex and Quelmar connect Zarnova satellites to the cloud, the companies said on Monday."


# ----------------------------------------------------------------- URLs and terms


def test_normalize_url_strips_tracking_and_case() -> None:
    messy = "HTTP://WWW.Example.COM:80/News/Story/?utm_source=x&utm_medium=y&id=3&fbclid=z#top"
    assert normalize_url(messy) == "https://example.com/News/Story?id=3"
    assert normalize_url("https://example.com/a?gclid=1&ref=home") == "https://example.com/a"
    assert normalize_url("https://medium.com/p/abc?source=topic_page---2") == "https://medium.com/p/abc"
    assert normalize_url("https://example.com:8443/a/") == "https://example.com:8443/a"
    assert normalize_url("  ") == ""
    assert normalize_url("ftp://example.com/a") == ""
    assert normalize_url("not a url") == ""
    assert normalize_url("http://[bad") == ""
    # what is left is compared as is: other parameters and path case matter
    assert normalize_url("https://example.com/a?id=3") != normalize_url("https://example.com/a?id=4")


@given(st.text(max_size=80))
def test_normalize_url_never_fails_and_is_idempotent(text: str) -> None:
    once = normalize_url(text)
    assert normalize_url(once) == once


@given(st.sampled_from(["utm_source", "utm_campaign", "fbclid", "gclid", "ref", "mc_cid"]),
       st.text(alphabet="abcdefghij0123456789", min_size=1, max_size=8))
def test_any_tracking_parameter_is_dropped(name: str, value: str) -> None:
    assert normalize_url(f"https://news.example.org/x/y?{name}={value}") == "https://news.example.org/x/y"


def test_terms_split_stem_and_drop_stop_words() -> None:
    assert terms("Facebook Removes Hundreds of Fake Pro-Trump Accounts Using A.I.") == [
        "facebook", "remov", "hundr", "fake", "pro", "trump", "account", "us", "ai"]
    assert terms("AWS uses IBM's chips") == ["aws", "us", "ibm", "chip"]
    assert terms("COVID-19 cut 99.99% uptime; Microsoft’s policies") == [
        "covid-19", "cut", "99.99", "uptim", "microsoft", "polici"]
    # inflections meet, derivations stay apart
    assert {stem(w) for w in ("warns", "warned", "warning", "warn")} == {"warn"}
    assert {stem(w) for w in ("exposes", "exposed", "expose")} == {"expos"}
    assert stem("database") == stem("databases") != stem("data")
    assert stem("class") == "class" and stem("status") == "status" and stem("2020s") == "2020s"


def test_name_terms_find_rare_spellings_and_sentence_capitals() -> None:
    assert name_terms("TensorIoT Achieves AWS Machine Learning Competency Status",
                      "We are delighted to include TensorIoT in the launch") == {"tensoriot", "aws"}
    # in a sentence-case headline a capital after the first word is a name
    assert name_terms("Ukraine uses facial recognition to identify dead Russian soldiers", "") \
        == {"ukrain", "russian"}
    # in a Title-Cased one only the first word and odd spellings count...
    assert name_terms("Microsoft Announces New Cloud Region", "") == {"microsoft"}
    # ...unless the excerpt writes the word with a capital inside a sentence
    assert name_terms("Microsoft Announces New Cloud Region In Qatar",
                      "The region in Qatar opens next year.") == {"microsoft", "qatar"}
    assert name_terms("AWS Backs Startups", "") == {"aws"}  # acronyms are not stemmed


def test_story_doc_from_parsed_article() -> None:
    text = article_text(
        "Orbitex launches satellite cloud", excerpt="A cloud in orbit.", provider="Space Wire",
        url="https://www.spacewire.example/orbitex/?utm_source=feed",
        related=["title: Other take\n    webUrl: 'https://Other.example/story/#x'", "title: No url here"],
    )
    for with_related in (True, False):  # the related URLs are read either way
        article = parse_article("_news/orbitex.md", text.encode(), with_related=with_related)
        sd = story_doc(article)
        assert sd.related == ("https://other.example/story",)
    assert sd.key == "_news/orbitex.md" and sd.provider == "Space Wire"
    assert sd.url == "https://spacewire.example/orbitex"
    assert sd.published == dt.datetime(2022, 4, 18, 10, 0, tzinfo=dt.timezone.utc)


# ----------------------------------------------------------------- the link rule


def test_same_story_from_two_providers_is_linked_and_same_provider_is_not() -> None:
    base = filler(60)
    a = doc("a.md", SPACE_TITLE, SPACE_TEXT, provider="Space Wire")
    b = doc("b.md", SPACE_TITLE, SPACE_TEXT, provider="Orbit Daily", day=0.5)
    same = doc("c.md", SPACE_TITLE, SPACE_TEXT, provider="space  wire", day=0.7)  # same provider, other case
    assert linked([*base, a, b], "a.md", "b.md")
    assert not linked([*base, a, same], "a.md", "c.md")
    # through a third outlet, two articles of one provider do share a story
    assert linked([*base, a, b, same], "a.md", "c.md")
    # an unknown provider is nobody's: it links
    assert linked([*base, a, dataclasses.replace(same, provider="")], "a.md", "c.md")


def test_date_window() -> None:
    base = filler(60)
    a = doc("a.md", SPACE_TITLE, SPACE_TEXT, provider="Space Wire")
    for day, expected in ((2.9, True), (-2.9, True), (3.2, False), (-10, False)):
        b = doc("b.md", SPACE_TITLE, SPACE_TEXT, provider="Orbit Daily", day=day)
        assert linked([*base, a, b], "a.md", "b.md") is expected, day
    undated = doc("b.md", SPACE_TITLE, SPACE_TEXT, provider="Orbit Daily", day=None)
    assert not linked([*base, a, undated], "a.md", "b.md")
    wider = StoryParams(window_days=12)
    far = doc("b.md", SPACE_TITLE, SPACE_TEXT, provider="Orbit Daily", day=10)
    assert linked([*base, a, far], "a.md", "b.md", wider)


def test_same_url_links_even_one_provider_but_only_within_the_window() -> None:
    base = filler(40)
    a = doc("a.md", "Computer vision and privacy law", "What companies should do.", provider="Medium",
            url="https://medium.com/p/cv-privacy-928477")
    b = doc("b.md", "Computer vision and privacy law", "What companies should do.", provider="Medium", day=1,
            url="https://medium.com/p/cv-privacy-928477?source=topic_page---2")
    assert linked([*base, a, b], "a.md", "b.md")
    # a monthly deals page rewritten at the same address is not one story
    deals_may = doc("m.md", "Best laptop deals for May", "Prices this month.", provider="Deals Hub",
                    url="https://deals.example/laptops")
    deals_june = doc("j.md", "Best laptop deals for June", "Prices this month.", provider="Deals Hub", day=20,
                     url="https://deals.example/laptops/")
    assert not linked([*base, deals_may, deals_june], "m.md", "j.md")


def test_rewordings_sharing_rare_names_link_below_the_high_threshold() -> None:
    base = filler(120)
    a = doc("a.md", "Far-right outfit used AI faces for propaganda",
            "Researchers at Graphika and the Quelmar Forensic Lab found that dozens of the fake accounts in "
            "the network taken down by Orbitex had avatars drawn by a machine.",
            provider="Daily Beast")
    b = doc("b.md", "Orbitex removes hundreds of fake accounts using generated profile photos",
            "Orbitex says it worked with Graphika and the Quelmar Forensic Lab; the network used "
            "artificial intelligence to generate fake profile photos.", provider="Forbes", day=0.2)
    why = explain([*base, a, b], "a.md", "b.md")
    params = StoryParams()
    assert params.low <= why.cosine < params.high  # too different for the plain threshold...
    assert why.rare_idf >= params.rare_mass  # ...but they share enough rare words
    assert why.linked and linked([*base, a, b], "a.md", "b.md")
    assert not linked([*base, a, b], "a.md", "b.md", dataclasses.replace(params, rare_mass=1000))


def test_related_listing_is_evidence_but_never_enough_alone() -> None:
    # "cloud" and "region" are common here, so the pair shares one rare word only
    base = filler(120) + [doc(f"common/{i}.md", f"Cloud region news {i}", "A cloud provider opens a region.",
                              provider=f"Common {i % 5}", day=-100 - 5 * i) for i in range(25)]
    a = doc("a.md", "Zarnova cloud region opens in Kelmor",
            "The provider starts a region for local customers.", provider="Wire One", url="https://one.example/a")
    b = doc("b.md", "Kelmor gets data centers",
            "Local businesses get a nearby cloud region soon, officials said.", provider="Wire Two", day=1,
            url="https://two.example/b")
    params = StoryParams()
    why = explain([*base, a, b], "a.md", "b.md")
    assert params.related_low <= why.cosine < params.high and why.rare_idf < params.rare_mass
    assert not linked([*base, a, b], "a.md", "b.md")
    listing = dataclasses.replace(a, related=("https://two.example/b",))
    assert linked([*base, listing, b], "a.md", "b.md")
    # listed, but about something else: no link
    other = doc("b.md", "Quarterly results beat estimates", "Revenue grew on strong sales.",
                provider="Wire Two", day=1, url="https://two.example/b")
    assert not linked([*base, listing, other], "a.md", "b.md")


def test_press_releases_of_two_companies_are_not_one_story() -> None:
    base = filler(120)
    text = "achieves Orbitex Machine Learning Competency status in applied AI, the company announced today."
    a = doc("a.md", "Kelvaro Achieves Orbitex Machine Learning Competency Status", "Kelvaro " + text,
            provider="PR Wire")
    b = doc("b.md", "TensorZed Achieves Orbitex Machine Learning Competency Status", "TensorZed " + text,
            provider="Business Line", day=0.3)
    why = explain([*base, a, b], "a.md", "b.md")
    assert why.cosine >= StoryParams().high and why.unshared_names == (1, 1)
    assert not linked([*base, a, b], "a.md", "b.md")
    assert linked([*base, a, b], "a.md", "b.md", StoryParams(name_veto=False))


# ----------------------------------------------------------------- ids


def _event_docs() -> list[StoryDoc]:
    return [
        *filler(50),
        doc("z/late.md", SPACE_TITLE, SPACE_TEXT, provider="Orbit Daily", day=1.0),
        doc("b/early.md", SPACE_TITLE, SPACE_TEXT, provider="Space Wire", day=0.0),
        doc("a/tie.md", SPACE_TITLE, SPACE_TEXT, provider="Sky News", day=1.0),
    ]


def test_story_id_is_the_earliest_member_then_the_smallest_key() -> None:
    stories = cluster_stories(_event_docs())
    assert stories["z/late.md"] == stories["a/tie.md"] == stories["b/early.md"] == "b/early.md"
    without_earliest = [d for d in _event_docs() if d.key != "b/early.md"]
    assert cluster_stories(without_earliest)["z/late.md"] == "a/tie.md"  # same time: the smaller key
    # an undated copy (linked by its URL) comes after every dated member, whatever its key
    late = doc("z/late.md", SPACE_TITLE, SPACE_TEXT, day=1.0, url="https://x.example/same")
    undated = doc("0/undated.md", SPACE_TITLE, SPACE_TEXT, day=None, url="https://x.example/same")
    assert cluster_stories([*filler(20), late, undated])["0/undated.md"] == "z/late.md"


def test_clustering_is_deterministic_whatever_the_input_order() -> None:
    docs = _event_docs()
    expected = cluster_stories(docs)
    rng = random.Random(3)
    for _ in range(3):
        shuffled = docs[:]
        rng.shuffle(shuffled)
        assert cluster_stories(shuffled) == expected


def test_ids_stay_while_membership_stays() -> None:
    docs = _event_docs()
    index = StoryIndex.build(doc_features(d) for d in docs)
    before = index.stories()
    later = doc("y/later.md", SPACE_TITLE, SPACE_TEXT, provider="Cloud Post", day=2.0)
    unrelated = filler(1, seed=99)[0]
    moved_in = [doc_features(later), doc_features(dataclasses.replace(unrelated, key="u.md"))]
    after = index.update(upserted=moved_in)
    stories = after.stories()
    assert stories["y/later.md"] == before["b/early.md"] == "b/early.md"  # joined, same id
    assert {k for k in changed_stories(before, stories)} == {"y/later.md", "u.md"}
    earlier = doc("x/first.md", SPACE_TITLE, SPACE_TEXT, provider="Star Times", day=-1.0)
    moved = after.update(upserted=[doc_features(earlier)]).stories()
    assert moved["b/early.md"] == "x/first.md"  # a new earliest member names the story


# ----------------------------------------------------------------- incremental == full


def _event_pool(rng: random.Random, n_events: int = 6) -> list[StoryDoc]:
    """Articles about a few made-up events (several outlets, a few days apart)
    mixed with unrelated ones, over a few weeks."""
    vocab = pseudo_words(rng, 300)
    common = vocab[:30]
    out = []
    for e in range(n_events):
        words = rng.sample(vocab[30:], 8)
        day = rng.uniform(0, 40)
        for i in range(rng.randint(1, 5)):
            title = " ".join(rng.sample(words, 4) + rng.sample(common, 2))
            excerpt = " ".join(rng.sample(words, 5) + rng.sample(vocab, 6))
            out.append(doc(f"e{e}/{i}.md", title, excerpt, provider=rng.choice("ABCDEF"),
                           day=day + rng.uniform(-2, 2), url=f"https://{e}.example/{i}"))
    for i in range(rng.randint(5, 25)):
        out.append(doc(f"n/{i}.md", " ".join(rng.sample(vocab, 6)), " ".join(rng.sample(vocab, 10)),
                       provider=rng.choice("ABCDEF"), day=rng.uniform(0, 40) if rng.random() > 0.1 else None))
    return out


def _mutate(rng: random.Random, d: StoryDoc, pool: list[StoryDoc]) -> StoryDoc:
    other = rng.choice(pool)
    kind = rng.randrange(5)
    if kind == 0:  # rewritten as another article
        return dataclasses.replace(other, key=d.key)
    if kind == 1 and d.published:  # re-dated
        return dataclasses.replace(d, published=d.published + dt.timedelta(days=rng.uniform(-4, 4)))
    if kind == 2:
        return dataclasses.replace(d, provider=other.provider)
    if kind == 3:  # a copy of another article's URL, or a related link to it
        return dataclasses.replace(d, url=other.url) if rng.random() < 0.5 else \
            dataclasses.replace(d, related=(other.url,))
    return dataclasses.replace(d, title=d.title + " " + other.title.split()[0])


def _memberships(stories: dict[str, str]) -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for key, story in stories.items():
        groups[story].add(key)
    return {story: frozenset(members) for story, members in groups.items()}


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_incremental_updates_equal_a_full_build(seed: int) -> None:
    rng = random.Random(seed)
    pool = _event_pool(rng)
    # a stable background keeps most steps incremental (the corpus size class
    # moves, and everything is rebuilt, once per 19 % of growth)
    current = {d.key: d for d in filler(100, seed) + rng.sample(pool, len(pool) // 2)}
    index = StoryIndex.build(doc_features(d) for d in current.values())
    dates = {k: d.published for k, d in current.items()}
    partial = 0
    for _ in range(6):
        movable = sorted(k for k in current if not k.startswith("filler/"))
        removed = rng.sample(movable, rng.randint(0, min(4, len(movable))))
        for key in removed:
            del current[key]
        upserts = [d for d in rng.sample(pool, rng.randint(0, 6)) if d.key not in removed]
        upserts += [_mutate(rng, current[k], pool) for k in rng.sample(sorted(current), min(3, len(current)))]
        for d in upserts:
            current[d.key] = d
        before = index.stories()
        dates_before = dict(dates)
        dates = {k: d.published for k, d in current.items()}
        index = index.update(removed=removed, upserted=[doc_features(d) for d in upserts])
        partial += index.recomputed < len(index)
        full = StoryIndex.build(doc_features(d) for d in current.values())
        assert index.link_keys() == full.link_keys()
        after = index.stories()
        assert after == full.stories()
        # a story whose members and their dates did not change kept its id
        old, new = _memberships(before), _memberships(after)
        same = {m for m in set(old.values()) & set(new.values())
                if all(dates_before[k] == dates[k] for k in m)}
        assert {s for s, m in old.items() if m in same} == {s for s, m in new.items() if m in same}
    assert partial  # the incremental path ran, not only full rebuilds


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_links_do_not_depend_on_how_many_terms_are_scored_densely(seed: int) -> None:
    # the common-term rows only speed the candidate search up; every decision
    # must come out the same whichever terms go through them
    from search import story_links

    rng = random.Random(seed)
    table_docs = filler(40, seed) + _event_pool(rng)
    index = StoryIndex.build(doc_features(d) for d in table_docs)
    expected = index.link_keys()
    saved = story_links.DENSE_TERMS
    try:
        for dense in (0, 3, 10_000):
            story_links.DENSE_TERMS = dense
            assert StoryIndex.build(doc_features(d) for d in table_docs).link_keys() == expected
    finally:
        story_links.DENSE_TERMS = saved


def test_update_recomputes_only_near_the_change() -> None:
    docs = filler(300) + _event_docs()
    index = StoryIndex.build(doc_features(d) for d in docs)
    edited = dataclasses.replace(docs[-1], title=SPACE_TITLE + " today")
    touched = index.update(upserted=[doc_features(edited)])
    assert 1 <= touched.recomputed < len(docs) // 4
    assert touched.stories() == StoryIndex.build(doc_features(d) for d in [*docs[:-1], edited]).stories()


def test_update_rebuilds_everything_when_the_corpus_size_class_moves() -> None:
    # IDF depends on the corpus size through its class ⌈4·log2 N⌉:
    # 128 → 129 articles moves it from 28 to 29, 121 → 122 does not
    docs = filler(128)
    params = StoryParams(background=0)
    index = StoryIndex.build((doc_features(d) for d in docs[:121]), params)
    assert index.update(upserted=[doc_features(docs[121])]).recomputed < 121
    index = StoryIndex.build((doc_features(d) for d in docs), params)
    crossed = index.update(upserted=[doc_features(dataclasses.replace(docs[0], key="new.md"))])
    assert crossed.recomputed == len(crossed) == 129


# ----------------------------------------------------------------- formats


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=60), st.text(max_size=200), st.text(max_size=20),
       st.one_of(st.none(), st.floats(-1e4, 1e4)), st.lists(st.text(max_size=30), max_size=4))
def test_features_round_trip_through_bytes(title: str, excerpt: str, provider: str, day: float | None,
                                           related: list[str]) -> None:
    features = doc_features(doc("k/é.md", title, excerpt, provider, day, "https://x.example/" + title[:5],
                                tuple("https://r.example/" + r for r in related)))
    assert StoryFeatures.from_bytes(features.to_bytes()) == features
    assert len(features.terms) == len(set(features.terms.tolist()))
    assert np.all(np.diff(features.terms.astype(np.float64)) > 0) or len(features.terms) < 2


@pytest.mark.parametrize("damage", [b"", b"SF1\x00", b"junk" * 20])
def test_damaged_feature_bytes_are_a_named_error(damage: bytes) -> None:
    with pytest.raises(IndexCorruptError):
        StoryFeatures.from_bytes(damage)
    good = doc_features(doc("a.md", SPACE_TITLE, SPACE_TEXT)).to_bytes()
    with pytest.raises(IndexCorruptError):
        StoryFeatures.from_bytes(good[:-3])


def test_index_save_load_round_trip(tmp_path: Path) -> None:
    docs = _event_docs()
    index = StoryIndex.build(doc_features(d) for d in docs)
    path = tmp_path / "stories.npz"
    index.save(path)
    loaded = StoryIndex.load(path)
    assert loaded.stories() == index.stories() and loaded.link_keys() == index.link_keys()
    extra = doc("y/later.md", SPACE_TITLE, SPACE_TEXT, provider="Cloud Post", day=2.0)
    assert loaded.update(upserted=[doc_features(extra)]).stories() == \
        index.update(upserted=[doc_features(extra)]).stories()
    with pytest.raises(IndexIncompatibleError):
        StoryIndex.load(path, StoryParams(high=0.5))
    path.write_bytes(b"not an npz file")
    with pytest.raises(IndexCorruptError):
        StoryIndex.load(path)
    # a well-formed file whose arrays do not fit together
    bad = StoryIndex(index.table, index.vocab, np.array([[0, len(docs) + 5]]), index.params)
    bad.save(path)
    with pytest.raises(IndexCorruptError):
        StoryIndex.load(path)


def test_empty_and_tiny_inputs() -> None:
    assert cluster_stories([]) == {}
    one = doc("only.md", "A title", day=None)
    assert cluster_stories([one]) == {"only.md": "only.md"}
    index = StoryIndex.build([doc_features(one)])
    assert index.update(removed=["only.md"]).stories() == {}
    assert index.update(removed=["missing.md"]).stories() == {"only.md": "only.md"}


# ----------------------------------------------------------------- bench scoring and gold file


def test_bench_scores_on_a_toy_example() -> None:
    bench = _load_bench("bench_stories")
    keys = ["a", "b", "c", "d"]
    gold = [["a", "b", "c"]]  # d alone
    predicted = {"a": "a", "b": "a", "c": "c", "d": "c"}
    s = bench.score(predicted, gold, keys)
    # B-cubed precision: a 1, b 1, c 1/2, d 1/2; recall: a 2/3, b 2/3, c 1/3, d 1
    assert s.b3_precision == pytest.approx(3 / 4)
    assert s.b3_recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4)
    # pairs: gold ab ac bc; predicted ab cd
    assert (s.pair_precision, s.pair_recall) == (pytest.approx(1 / 2), pytest.approx(1 / 3))
    assert s.missed == (("a", "c"), ("b", "c")) and s.false == (("c", "d"),)


def test_gold_file_holds_paths_only() -> None:
    gold = json.loads((REPO / "bench" / "data" / "stories_gold.json").read_text("utf-8"))
    paths = [p for story in gold["stories"] for p in story]
    assert len(paths) == len(set(paths)) and all(len(story) > 1 for story in gold["stories"])
    assert all(p.startswith("ai/") and p.endswith(".md") for p in paths)
    assert set(gold["added_by_hand"]["paths"]) <= set(paths)
    assert all(p.startswith("ai/") for pair in gold["dropped_links"]["pairs"] for p in pair)


@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason=f"shared corpus not found at {SHARED_CORPUS}")
def test_gold_paths_exist_in_the_shared_corpus() -> None:
    gold = json.loads((REPO / "bench" / "data" / "stories_gold.json").read_text("utf-8"))
    listed = [p for story in gold["stories"] for p in story]
    listed += [p for pair in gold["dropped_links"]["pairs"] for p in pair]
    missing = [p for p in listed if not (SHARED_CORPUS / p).is_file()]
    assert not missing


def test_bench_runs_end_to_end_on_a_tiny_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load_bench("bench_stories")
    ai, azure = tmp_path / "ai", tmp_path / "azure"
    same = "Orbitex and Quelmar connect Zarnova satellites to the cloud, the companies said."
    files = {
        ai / "_news/a.md": article_text("Orbitex launches Zarnova satellite cloud", excerpt=same,
                                        provider="Wire One", url="https://one.example/a"),
        ai / "_news/b.md": article_text("Zarnova satellite cloud from Orbitex goes live", excerpt=same,
                                        provider="Wire Two", url="https://two.example/b"),
        ai / "_news/c.md": article_text("Robots learn to walk", excerpt="Robots walked in a day.",
                                        provider="Wire Three", url="https://three.example/c"),
        azure / "_news/d.md": article_text("Quarterly results beat estimates", excerpt="Revenue grew.",
                                           provider="Wire Four", url="https://four.example/d"),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"stories": [["ai/_news/a.md", "ai/_news/b.md"]],
                                "added_by_hand": {"paths": []}, "dropped_links": {"pairs": []}}))
    assert bench.main(["--ai", str(ai), "--azure", str(azure), "--gold", str(gold), "--repeat", "1",
                       "--sample", "2"]) == 0
    out = capsys.readouterr().out
    assert "B-cubed   P=1.0000 R=1.0000 F1=1.0000" in out
    assert "azure articles merged into gold stories: 0" in out
    assert bench.main(["--perf", str(ai), "--repeat", "1", "--updates", "2"]) == 0
    assert "one-article update" in capsys.readouterr().out
