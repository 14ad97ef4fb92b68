"""Check records against the JSON Schema and say what is wrong in words a volunteer understands."""
from functools import cache
from urllib.parse import urljoin

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError

import wegweiser_schema
from feeds.problems import Problem, error, in_sentence
from feeds.suggest import did_you_mean

RECORD_SCHEMAS = ("organisation", "offer", "event")
_TYPE_WORDS = {
    "string": "text in quotes", "object": "an object { … }", "array": "a list [ … ]",
    "number": "a number", "integer": "a whole number", "boolean": "true or false", "null": "null",
}


def _target(name: str, pointer: str) -> dict:
    root = wegweiser_schema.schema(name)
    return {"$ref": f"{root['$id']}#{pointer}"} if pointer else root


@cache
def validator(name: str, pointer: str = "") -> Draft202012Validator:
    """A validator for a schema file, or for a ``$defs`` entry in it, that explains each error."""
    return Draft202012Validator(_target(name, pointer), registry=wegweiser_schema.registry())


@cache
def fast_validator(name: str, pointer: str = ""):
    """The same schema compiled by jsonschema-rs: a yes/no answer about 100 times faster, so
    the explaining validator runs only for the few records that are wrong."""
    resources = [(wegweiser_schema.schema(n)["$id"], wegweiser_schema.schema(n)) for n in wegweiser_schema.SCHEMA_FILES]
    return jsonschema_rs.Draft202012Validator(_target(name, pointer), registry=jsonschema_rs.Registry(resources))


def json_pointer(parts) -> str:
    """RFC 6901 pointer for a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def check(name: str, instance, pointer: str = "") -> list[Problem]:
    """Every schema problem of ``instance`` against schema ``name`` (optionally a ``$defs`` pointer)."""
    if fast_validator(name, pointer).is_valid(instance):
        return []
    problems = []
    for err in validator(name, pointer).iter_errors(instance):
        problems += _missing_fields(err) if err.validator == "required" else [_problem(err)]
    return list(dict.fromkeys(problems))


def _problem(err: ValidationError) -> Problem:
    message, hint = _explain(err, _field_name(err))
    return error(json_pointer(err.absolute_path), message, in_sentence(hint), code=f"schema-{err.validator}")


def _missing_fields(err: ValidationError) -> list[Problem]:
    """One problem per missing required field (jsonschema raises one error per field, but
    names the field only inside its English sentence)."""
    where = json_pointer(err.absolute_path)
    properties = err.schema.get("properties", {})
    problems = []
    for name in err.validator_value:
        if isinstance(err.instance, dict) and name not in err.instance:
            spec = properties.get(name, {})
            if spec.get("$ref", "").endswith("/text"):
                hint = f'add "{name}": {{"de": "…"}} with the text in at least one language'
            else:
                hint = _description(spec) or err.schema.get("description", "")
            problems.append(error(where, f"the required field `{name}` is missing", in_sentence(hint), code="schema-required"))
    return problems


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
    if not ref:
        return ""
    base = _base_uris().get(id(schema), "")
    return _lookup(urljoin(base, ref)).get("description", "")


def _lookup(uri: str) -> dict:
    return wegweiser_schema.registry().resolver().lookup(uri).contents


@cache
def _base_uris() -> dict[int, str]:
    """The ``$id`` of the file each subschema object sits in, so its relative ``$ref`` resolves."""
    bases: dict[int, str] = {}

    def walk(node, base: str) -> None:
        if isinstance(node, dict):
            bases[id(node)] = base
            for child in node.values():
                walk(child, base)
        elif isinstance(node, list):
            for child in node:
                walk(child, base)

    for name in wegweiser_schema.SCHEMA_FILES:
        walk(wegweiser_schema.schema(name), wegweiser_schema.schema(name)["$id"])
    return bases


def _explain(err: ValidationError, field: str) -> tuple[str, str]:
    """Message and hint for one schema error, by the keyword that failed."""
    kind, expected, value = err.validator, err.validator_value, err.instance
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
