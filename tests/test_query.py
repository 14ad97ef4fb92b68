"""Lists of the directory through one query: the bundled example feeds harvested into a real SQLite
file, then searched, filtered by facets and dates, paged, and followed by changes."""
from datetime import date, datetime, timezone

import pytest

from aggregator.fetch import Fetcher
from aggregator.harvest import harvest_all
from aggregator.query import Filters
from aggregator.sources import load_registry
from aggregator.store import Store
from tests.conftest import BACKENDS, REPO, new_directory_url
from tests.test_store import harvest, offer, store  # noqa: F401  (the store fixture)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module", params=BACKENDS)
def directory(request, tmp_path_factory):
    s = Store(new_directory_url(request.param, request, tmp_path_factory.mktemp("query")))
    outcomes = harvest_all(s, load_registry(REPO / "feeds" / "examples" / "sources.toml"), Fetcher(), now=NOW)
    assert {o.status for o in outcomes} == {"ok"}
    yield s
    s.close()


def counts(found, facet):
    return found.facets[facet]


def test_facet_counts_leave_out_their_own_filter(directory):
    everything = directory.find("offer", Filters())
    counselling = directory.find("offer", Filters(category=("counselling",)))
    assert counselling.total == counts(everything, "category")["counselling"] < everything.total
    # the category counts stay those of all offers, so a second category can still be chosen
    assert counts(counselling, "category") == counts(everything, "category")
    # the other facets count only counselling offers
    assert counts(counselling, "language")["de"] == counselling.total
    assert sum(counts(counselling, "provider_kind").values()) == counselling.total


def test_values_of_one_facet_widen_and_facets_narrow(directory):
    def total(**chosen):
        return directory.find("offer", Filters(**chosen)).total
    assert total(category=("counselling", "health")) > total(category=("counselling",))
    assert total(category=("counselling",), language=("tr",)) < total(category=("counselling",))
    both = directory.find("offer", Filters(category=("counselling",), language=("tr",)))
    assert all("counselling" in e["data"]["categories"] and "tr" in e["data"]["languages"] for e in both.entries)


def test_search_facets_and_dates_combined(directory):
    march = Filters(q="frauen", category=("culture-and-leisure",), from_=date(2027, 3, 1), to=date(2027, 3, 31))
    found = directory.find("event", march)
    assert [e["title"] for e in found.entries] == ["Frauenfrühstück"]
    assert directory.find("event", Filters(q="frauen", from_=date(2027, 7, 1), to=date(2027, 7, 31))).total == 0
    pairs = directory.occurrences_in(march)
    # the breakfast of Saturday 6 March moved to Monday 8 March, with its own title
    assert [o.start_local for o, _ in pairs][:3] == ["2027-03-08T17:00", "2027-03-13T10:00", "2027-03-20T10:00"]
    assert (pairs[0][0].recurrence_id, pairs[0][0].changes["title"]["de"]) == ("2027-03-06T10:00", "Frauentreff zum Internationalen Frauentag")


def test_events_by_day_are_in_order_with_cancelled_dates_marked(directory):
    pairs = directory.occurrences_in(Filters(), date(2027, 2, 1), date(2027, 2, 28))
    starts = [o.start_utc for o, _ in pairs]
    assert starts == sorted(starts)
    cancelled = [(o.local_date, e["title"]) for o, e in pairs if o.status == "cancelled"]
    assert cancelled == [("2027-02-13", "Frauenfrühstück")]
    bruecke = Filters(organisation=(_organiser_of(directory, "Frauenfrühstück"),))
    titles = {e["title"] for _, e in directory.occurrences_in(bruecke, date(2027, 2, 1), date(2027, 2, 28))}
    assert "Frauenfrühstück" in titles and not any(t.startswith("Ukrainische Sonntagsschule") for t in titles)


def _organiser_of(directory, title):
    """The organisation facet value of an event, found through the facet counts of a search for it."""
    found = directory.find("event", Filters(q=title))
    [value] = counts(found, "organisation")
    return value


def test_offers_outside_their_validity_are_left_out_of_a_date_range(directory):
    def ids(**dates):
        return {e["data"]["id"] for e in directory.find("offer", Filters(**dates), per_page=100).entries}
    everything = ids()
    # valid 2027-01-12 to 2027-06-08, and 2027-01-15 to 2027-03-05
    assert {"ehrenamt-qualifizierung", "schwimmkurs-frauen-2027"} <= ids(from_=date(2027, 3, 1), to=date(2027, 3, 31))
    assert ids(from_=date(2027, 7, 1)) == everything - {"ehrenamt-qualifizierung", "schwimmkurs-frauen-2027"}
    assert ids(to=date(2027, 1, 13)) == everything - {"schwimmkurs-frauen-2027"}


def test_pages_cover_every_entry_once_with_the_total(directory):
    everything = directory.find("offer", Filters(), per_page=100)
    seen = []
    for page in range(1, 5):
        found = directory.find("offer", Filters(), page=page, per_page=5)
        assert (found.total, found.pages) == (everything.total, 4)
        seen += [e["entry_id"] for e in found.entries]
    assert seen == [e["entry_id"] for e in everything.entries]
    assert directory.find("offer", Filters(), page=9, per_page=5).entries == []
    with pytest.raises(ValueError, match="per_page: 500 is out of range"):
        directory.find("offer", Filters(), per_page=500)


def test_changed_since_brings_changes_and_withdrawals_as_tombstones(store):
    harvest(store, "bruecke", ("offer", offer("a", {"de": "A"})), ("offer", offer("b", {"de": "B"})),
            ("offer", offer("c", {"de": "C"})), now="2026-11-20T10:00:00Z")
    harvest(store, "bruecke", ("offer", offer("a", {"de": "A neu"})), ("offer", offer("c", {"de": "C"})),
            now="2026-11-22T10:00:00Z")
    since = Filters.from_args({"changed_since": "2026-11-21T00:00:00+01:00"})
    found = store.find("offer", since)
    assert [(e["title"], e["withdrawn"]) for e in found.entries] == [("A neu", False), ("B", True)]
    assert found.total == 2
    assert counts(found, "category") == {"counselling": 1}     # tombstones are not counted in facets
    assert store.find("offer", Filters.from_args({"changed_since": "2026-11-23T00:00:00Z"})).total == 0


@pytest.mark.parametrize("args, message", [
    ({"from": "2026-13-01"}, "from: '2026-13-01' is not a date, write YYYY-MM-DD"),
    ({"to": "1.3.2027"}, "to: '1.3.2027' is not a date, write YYYY-MM-DD"),
    ({"from": "2027-03-31", "to": "2027-03-01"}, "to: '2027-03-01' is before from: '2027-03-31'"),
    ({"changed_since": "gestern"}, "changed_since: 'gestern' is not a time with a zone, write e.g. 2026-11-22T10:00:00Z"),
    ({"category": "beratung"}, "category: 'beratung' is not a known value, use one of: anti-discrimination"),
    ({"from": ["2027-03-01", "2027-04-01"]}, "from: given 2 times"),
])
def test_bad_filter_values_say_what_to_write(args, message):
    with pytest.raises(ValueError) as raised:
        Filters.from_args(args)
    assert str(raised.value).startswith(message)


def test_query_string_values_become_filters():
    filters = Filters.from_args({"q": " frauen ", "category": ["women", "counselling"], "town": "Lindenau",
                                 "from": "2027-03-01", "page": "2"})
    assert (filters.q, filters.category, filters.town, filters.from_) == ("frauen", ("women", "counselling"), ("Lindenau",), date(2027, 3, 1))
    assert filters.utc_range() == ("2027-02-28T23:00:00Z", None)


def test_facet_counts_follow_a_change_of_the_directory(store):
    harvest(store, "bruecke", ("offer", offer("a", {"de": "Sprechstunde"})))
    before = store.find("offer", Filters()).facets["category"]
    harvest(store, "stadt", ("offer", offer("b", {"de": "Beratung"})), now="2026-11-21T09:00:00Z")
    assert store.find("offer", Filters()).facets["category"] == {"counselling": before["counselling"] + 1}
