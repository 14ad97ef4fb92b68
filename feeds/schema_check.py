"""Check records against the JSON Schema and say what is wrong in words a volunteer understands."""
from functools import cache

from jsonschema import Draft202012Validator, ValidationError

import wegweiser_schema
from feeds.problems import Problem, error
from feeds.suggest import did_you_mean

RECORD_SCHEMAS = ("organisation", "offer", "event")
_TYPE_WORDS = {
    "string": "text in quotes", "object": "an object { … }", "array": "a list [ … ]",
    "number": "a number", "integer": "a whole number", "boolean": "true or false", "null": "null",
}


@cache
def validator(name: str, pointer: str = "") -> Draft202012Validator:
    """A compiled validator for a schema file, or for a ``$defs`` entry in it."""
    root = wegweiser_schema.schema(name)
    target = {"$ref": f"{root['$id']}#{pointer}"} if pointer else root
    return Draft202012Validator(target, registry=wegweiser_schema.registry())


def json_pointer(parts) -> str:
    """RFC 6901 pointer for a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def check(name: str, instance, pointer: str = "") -> list[Problem]:
    """Every schema problem of ``instance`` against schema ``name`` (optionally a ``$defs`` pointer)."""
    return [_problem(err) for err in validator(name, pointer).iter_errors(instance)]


def _problem(err: ValidationError) -> Problem:
    where = json_pointer(err.absolute_path)
    field = _field_name(err)
    message, hint = _explain(err, field)
    return error(where, message, hint, code=f"schema-{err.validator}")


def _field_name(err: ValidationError) -> str:
    for part in reversed(err.absolute_path):
        if isinstance(part, str):
            return part
    return "feed"


def _description(schema: dict) -> str:
    """The human description of a subschema, following a ``$ref`` once if needed."""
    if "description" in schema:
        return schema["description"]
    ref = schema.get("$ref")
    if ref:
        resolved = wegweiser_schema.registry().resolver().lookup(_absolute(ref)).contents
        return resolved.get("description", "")
    return ""


def _absolute(ref: str) -> str:
    base = "https://w3id.org/wegweiser/schema/v1/"
    return ref if ref.startswith("https://") else base + ref


def _explain(err: ValidationError, field: str) -> tuple[str, str]:
    """Message and hint for one schema error, by the keyword that failed."""
    kind, expected, value = err.validator, err.validator_value, err.instance
    if kind == "required":
        missing = next((name for name in expected if name not in value), expected[0])
        spec = err.schema.get("properties", {}).get(missing, {})
        if spec.get("$ref", "").endswith("/text"):
            return f"the required field `{missing}` is missing", f'add "{missing}": {{"de": "…"}} with the text in at least one language'
        return f"the required field `{missing}` is missing", _description(spec) or err.schema.get("description", "")
    if kind == "type":
        wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in ([expected] if isinstance(expected, str) else expected))
        return f"`{field}` must be {wanted}, not {_show(value)}", _description(err.schema)
    if kind == "anyOf" and all(set(branch) == {"required"} for branch in expected):
        names = " or ".join(f"`{branch['required'][0]}`" for branch in expected)
        return f"this entry needs {names}", _description(err.schema)
    if kind in ("pattern", "anyOf", "oneOf", "format"):
        return f"{_show(value)} is not a valid value for `{field}`", _description(err.schema) or _best_context(err)
    if kind == "enum":
        options = ", ".join(str(o) for o in expected)
        guess = did_you_mean(str(value), [str(o) for o in expected])
        return f"{_show(value)} is not allowed in `{field}`", (f"did you mean '{guess}'? " if guess else "") + f"use one of: {options}"
    if kind == "const":
        return f"`{field}` must be {_show(expected)}, not {_show(value)}", ""
    if kind == "minItems":
        return f"`{field}` needs at least {expected} entr{'y' if expected == 1 else 'ies'}", _description(err.schema)
    if kind == "minProperties":
        return f"`{field}` is empty", 'give the text in at least one language, e.g. {"de": "…"}'
    if kind == "minLength":
        return f"`{field}` is empty", "write the text or leave the field out"
    if kind == "maxLength":
        return f"`{field}` is longer than {expected} characters", ""
    if kind == "uniqueItems":
        return f"`{field}` lists the same entry twice", "remove the repeated entry"
    if kind in ("minimum", "maximum"):
        bound = "at least" if kind == "minimum" else "at most"
        return f"`{field}` is {value}, but must be {bound} {expected}", _description(err.schema)
    if kind == "propertyNames":
        return f"{err.message}", "text is keyed by language tags such as de, tr, ar"
    return err.message, _description(err.schema)


def _best_context(err: ValidationError) -> str:
    return min((e.message for e in err.context or ()), key=len, default="")


def _show(value) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return _TYPE_WORDS["object" if isinstance(value, dict) else "array"]
    return str(value)
