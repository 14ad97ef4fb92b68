"""Validation speed: records per second of `wegweiser validate`'s checks over generated records,
beside the raw JSON Schema validation of the same records in the same process.

    python bench/validate_bench.py [--records 100000]

Three figures over the same records, in the same process:
- raw jsonschema: the Python jsonschema library alone, schema compiled once (the baseline asked for);
- raw jsonschema-rs: the same schema compiled in Rust, yes/no only (the floor of schema checking);
- wegweiser validate: the jsonschema-rs gate, the explaining validator for wrong records only, and
  what the schema cannot say (terms, language tags, time zones, RRULEs, phone numbers, emails,
  markup, dates, references, duplicate ids).
Compare the ratios, not the absolute numbers: these machines are noisy.
"""
import argparse
import copy
import json
import time
from datetime import date
from pathlib import Path

from feeds import validate
from feeds.feed import RECORD_LISTS
from feeds.schema_check import fast_validator, validator

BASE = json.loads((Path(__file__).resolve().parents[1] / "tests" / "data" / "valid" / "minimal-complete.json").read_text())
TODAY = date(2026, 11, 22)
CATEGORIES = ["counselling", "language-learning", "work-and-career", "health", "women", "culture-and-leisure"]
LANGUAGES = ["de", "tr", "ar", "uk", "ru", "fa", "en"]  # "de" first: every record has it, plus one other


def generate(count: int) -> dict:
    """A feed with ``count`` records: one organisation per 50, the rest offers and events half each."""
    document = copy.deepcopy(BASE)
    organisation, offer, event = BASE["organisations"][0], BASE["offers"][0], BASE["events"][0]
    document["organisations"], document["offers"], document["events"] = [], [], []
    for n in range(count):
        if n % 50 == 0:
            record = copy.deepcopy(organisation)
            record["id"] = f"org-{n}"
            document["organisations"].append(record)
            continue
        template, list_name = (offer, "offers") if n % 2 else (event, "events")
        record = copy.deepcopy(template)
        record["id"] = f"{list_name}-{n}"
        record["categories"] = [CATEGORIES[n % len(CATEGORIES)]]
        record["languages"] = ["de", LANGUAGES[1 + n % (len(LANGUAGES) - 1)]]
        record["title"]["de"] = f"{record['title']['de']} {n}"
        record.get("provider") and record.update(provider=f"org-{n - n % 50}")
        record.get("organiser") and record.update(organiser=f"org-{n - n % 50}")
        document[list_name].append(record)
    return document


def raw_schema_pass(document: dict) -> int:
    """The floor: every record through its compiled JSON Schema validator, nothing else."""
    errors = 0
    for list_name, kind in RECORD_LISTS.items():
        check = validator(kind)
        for record in document[list_name]:
            errors += sum(1 for _ in check.iter_errors(record))
    return errors


def raw_rust_pass(document: dict) -> int:
    """The floor of schema checking: every record through the Rust-compiled schema, yes or no."""
    return sum(not fast_validator(kind).is_valid(record)
               for list_name, kind in RECORD_LISTS.items() for record in document[list_name])


def full_pass(document: dict) -> int:
    """What the validator does for a feed: schema plus every semantic rule, per record."""
    context = validate.context_for(document, today=TODAY)
    return sum(len(finding.problems) for finding in validate.check_records(document, context))


def timed(run, document: dict) -> tuple[float, int]:
    start = time.perf_counter()
    found = run(document)
    return time.perf_counter() - start, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    document = generate(args.records)
    full_pass(generate(200))  # warm caches (vocabularies, compiled schemas, time zone list)
    raw_seconds, raw_errors = timed(raw_schema_pass, document)
    rust_seconds, rust_invalid = timed(raw_rust_pass, document)
    full_seconds, full_problems = timed(full_pass, document)
    n = args.records
    print(f"records: {n:,}")
    print(f"raw jsonschema:      {raw_seconds:7.2f} s  {n / raw_seconds:9,.0f} records/s  ({raw_errors} schema errors)")
    print(f"raw jsonschema-rs:   {rust_seconds:7.2f} s  {n / rust_seconds:9,.0f} records/s  ({rust_invalid} invalid records)")
    print(f"wegweiser validate:  {full_seconds:7.2f} s  {n / full_seconds:9,.0f} records/s  ({full_problems} problems)")
    print(f"full / raw jsonschema:    {full_seconds / raw_seconds:6.2f} x the time")
    print(f"full / raw jsonschema-rs: {full_seconds / rust_seconds:6.1f} x the time")


if __name__ == "__main__":
    main()
