"""The validator never crashes, whatever JSON it is fed: it answers with problems."""
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import validate
from tests.conftest import DATA, TODAY

BASE = json.loads((DATA / "valid" / "minimal-complete.json").read_text())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
FIELDS = ["id", "updated", "title", "start", "end", "timezone", "recurrence", "overrides", "categories", "languages",
          "location", "contacts", "schedules", "cost", "provider", "organiser", "co_organisers", "url", "deleted",
          "last_verified", "valid_from", "valid_to", "status"]


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_never_crashes(value):
    problems = validate.check_document(value, today=TODAY)
    assert all(p.severity in ("error", "warning") for p in problems)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["organisations", "offers", "events"]), st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6))
def test_records_with_arbitrary_field_values_never_crash(list_name, fields):
    document = json.loads(json.dumps(BASE))
    record = document[list_name][0]
    record.update(fields)
    problems = validate.check_document(document, today=TODAY)
    assert all(p.pointer == "" or p.pointer.startswith("/") for p in problems)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_a_report_not_a_crash(data):
    report = validate.validate_bytes(data, "upload.json", today=TODAY)
    assert report.unreadable or isinstance(report.problems, list)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["organisation", "offer", "event"]), st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6))
def test_fast_and_explaining_schema_validators_agree(kind, fields):
    """The fast yes/no validator gates the explaining one: they must never disagree."""
    from feeds.schema_check import fast_validator, validator
    record = json.loads(json.dumps(BASE[kind + "s"][0]))
    record.update(fields)
    assert fast_validator(kind).is_valid(record) == (next(validator(kind).iter_errors(record), None) is None)
