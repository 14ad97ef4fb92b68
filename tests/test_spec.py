"""The format specification (schema/README.md) stays true to the schema: its examples validate, every field is documented."""
import importlib
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from wegweiser_schema import SCHEMA_FILES, VOCABULARIES, registry, schema, vocabulary

SPEC = Path(__file__).resolve().parents[1] / "schema" / "README.md"
EXAMPLE_MARK = re.compile(r"^<!-- example: (\S+) -->$")
FENCED_BLOCK = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
# A code span opens and closes with backtick strings of equal length (CommonMark), so ``a `b` c`` is one span.
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
# The examples are dated around the day they were written; checking them as of that day keeps
# date-relative rules (more than 5 years ahead, not verified for a year) from failing as time passes.
EXAMPLES_WRITTEN = date(2026, 11, 22)


@dataclass(frozen=True)
class Example:
    """A JSON block of the spec marked ``<!-- example: target -->``."""

    target: str
    line: int
    text: str | None

    def __str__(self) -> str:
        return f"{self.target}@line{self.line}"


def json_block_after(lines: list[str], index: int) -> str | None:
    """The body of the ```json block starting at ``lines[index]``, or None when there is none."""
    if index >= len(lines) or lines[index].strip() != "```json":
        return None
    end = next((i for i in range(index + 1, len(lines)) if lines[i].strip() == "```"), None)
    return None if end is None else "\n".join(lines[index + 1:end])


def spec_examples() -> list[Example]:
    """Every marked example of the spec, with the README line of its ```json fence."""
    lines = SPEC.read_text(encoding="utf-8").splitlines()
    return [
        Example(mark[1], number + 1, json_block_after(lines, number))
        for number, line in enumerate(lines, 1)
        if (mark := EXAMPLE_MARK.match(line.strip()))
    ]


def validator(target: str) -> Draft202012Validator:
    """A validator for ``name`` (a schema file without ``.schema.json``) or ``name#/json/pointer``."""
    name, _, pointer = target.partition("#")
    reference = schema(name)["$id"] + (f"#{pointer}" if pointer else "")
    return Draft202012Validator({"$ref": reference}, registry=registry())


def parsed(example: Example):
    """The example's JSON, failing the test with the README line when it is no JSON block."""
    if example.text is None:
        pytest.fail(f"README.md line {example.line - 1}: '<!-- example: {example.target} -->' is not followed by a ```json block")
    try:
        return json.loads(example.text)
    except json.JSONDecodeError as problem:
        pytest.fail(f"README.md line {example.line + problem.lineno}: example of {example.target} is not JSON: {problem.msg}")


def declared_properties(node) -> set[str]:
    """Every name declared under ``properties`` anywhere in a schema, ``$defs`` included."""
    names = set()
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            names |= set(node["properties"])
        for value in node.values():
            names |= declared_properties(value)
    elif isinstance(node, list):
        for value in node:
            names |= declared_properties(value)
    return names


def code_spans() -> set[str]:
    """Everything the spec writes in backticks, outside code blocks."""
    prose = FENCED_BLOCK.sub("", SPEC.read_text(encoding="utf-8"))
    return {span.strip() for _, span in CODE_SPAN.findall(prose)}


def object_targets() -> set[str]:
    """Each schema file and each object type in its ``$defs``: the things a reader needs an example of."""
    targets = set(SCHEMA_FILES) - {"common"}
    for name in SCHEMA_FILES:
        targets |= {f"{name}#/$defs/{key}" for key, spec in schema(name).get("$defs", {}).items() if spec.get("type") == "object"}
    return targets


def vocabulary_row(term: dict) -> str:
    """The table row the spec gives a vocabulary term: id, German label, English label."""
    return f"| `{term['id']}` | {term['label']['de']} | {term['label']['en']} |"


EXAMPLES = spec_examples()


def test_spec_has_at_least_ten_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_example_is_valid_against_its_schema(example):
    instance = parsed(example)
    errors = sorted(validator(example.target).iter_errors(instance), key=lambda error: list(error.path))
    assert not errors, f"README.md line {example.line}: example of {example.target} is invalid:\n" + "\n".join(
        f"  {error.json_path}: {error.message}" for error in errors
    )


def test_every_object_of_the_schema_has_an_example():
    missing = object_targets() - {example.target for example in EXAMPLES}
    assert not missing, f"no '<!-- example: … -->' in schema/README.md for: {', '.join(sorted(missing))}"


def test_every_schema_field_is_documented_in_backticks():
    documented = code_spans()
    undocumented = {
        f"{name}.schema.json: {field}"
        for name in SCHEMA_FILES
        for field in declared_properties(schema(name)) - documented
    }
    assert not undocumented, "fields missing from schema/README.md:\n" + "\n".join(sorted(undocumented))


@pytest.mark.parametrize("name", VOCABULARIES)
def test_every_vocabulary_term_is_listed_with_its_labels(name):
    spec = SPEC.read_text(encoding="utf-8")
    terms = vocabulary(name)["terms"]
    unlisted = [term["id"] for term in terms if vocabulary_row(term) not in spec]
    assert terms, f"vocabularies/{name}.json has no terms"
    assert not unlisted, (
        f"schema/README.md lacks the rows of vocabularies/{name}.json for: {', '.join(unlisted)}\n"
        f"expected rows like: {vocabulary_row(terms[0])}"
    )


def test_feed_examples_pass_the_semantic_checks():
    try:
        semantic = importlib.import_module("feeds.validate")
    except ModuleNotFoundError as missing:
        if missing.name != "feeds.validate":
            raise
        pytest.skip("semantic validator not present")
    feeds = [example for example in EXAMPLES if example.target == "feed"]
    assert feeds, "the spec has no complete feed example"
    failures = [
        f"README.md line {example.line}: {problem.pointer}: {problem.message}"
        for example in feeds
        for problem in semantic.check_document(parsed(example), today=EXAMPLES_WRITTEN)
        if problem.is_error
    ]
    assert not failures, "\n".join(failures)
