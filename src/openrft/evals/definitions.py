"""An eval's data_source_config: the `custom` kind, its item_schema checked as a JSON Schema, and the
returned form OpenAI gives it, `{"type": "custom", "schema": {"type": "object", "properties": {"item":
<item_schema>, "sample": <SAMPLE_SCHEMA>}, "required": ["item", "sample"]}}` (no "sample" without
include_sample_schema).

Only `custom` is served: `logs` and `stored_completions` select OpenAI-hosted traffic logs, which a
self-hosted server does not keep. Template variables are checked against the item schema where it
lists `properties` (`check_item_variables`): `{{item.x}}` with no property `x` can never render.
"""

from __future__ import annotations

from typing import Any

from openrft.errors import InvalidRequest
from openrft.graders.templates import Path

# OpenAI's sample schema: what a completions run (or a jsonl row's "sample") offers the `sample` namespace.
SAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "model": {"type": "string"},
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "message": {
                        "type": "object",
                        "properties": {
                            "role": {"type": "string", "enum": ["assistant"]},
                            "content": {"type": ["string", "null"]},
                            "refusal": {"type": ["boolean", "null"]},
                            "tool_calls": {"type": ["array", "null"], "items": {"type": "object"}},
                        },
                        "required": ["role"],
                    },
                    "finish_reason": {"type": "string"},
                },
                "required": ["index", "message", "finish_reason"],
            },
        },
        "output_text": {"type": "string"},
        "output_json": {"type": "object"},
        "output_tools": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["model", "choices"],
}
SUPPORTED_KINDS = ("custom",)


def check_item_schema(item_schema: Any, *, param: str = "data_source_config.item_schema") -> dict[str, Any]:
    """The item_schema, if it is a JSON Schema object (jsonschema's check_schema, by its own $schema or
    the latest draft); else a 400 naming `param` with the validator's reason."""
    import jsonschema
    from jsonschema.exceptions import SchemaError

    if not isinstance(item_schema, dict):
        raise InvalidRequest(f"'{param}' must be a JSON Schema object.", param=param)
    try:
        jsonschema.validators.validator_for(item_schema).check_schema(item_schema)
    except SchemaError as exc:
        where = "".join(f"[{p!r}]" for p in exc.path)
        raise InvalidRequest(f"'{param}' is not a valid JSON Schema{' at ' + where if where else ''}: {exc.message}",
                             param=param) from None  # fmt: skip
    return item_schema


def custom_config(item_schema: dict[str, Any], *, include_sample_schema: bool = False) -> dict[str, Any]:
    """The returned form of a custom data_source_config (module docstring)."""
    properties: dict[str, Any] = {"item": item_schema}
    required = ["item"]
    if include_sample_schema:
        properties["sample"] = SAMPLE_SCHEMA
        required.append("sample")
    return {"type": "custom", "schema": {"type": "object", "properties": properties, "required": required}}


def parse_data_source_config(raw: Any, *, param: str = "data_source_config") -> dict[str, Any]:
    """A create request's data_source_config -> its returned form; 400 naming the field at fault."""
    if not isinstance(raw, dict):
        raise InvalidRequest(f"Missing required parameter: '{param}'.", param=param)
    kind = raw.get("type")
    if kind not in SUPPORTED_KINDS:
        raise InvalidRequest(
            f"'{param}.type' {kind!r} is not supported here: only 'custom' (an item_schema of your rows). "
            "'logs' and 'stored_completions' read OpenAI-hosted logs, which this server does not keep.",
            param=f"{param}.type",
        )
    extra = sorted(set(raw) - {"type", "item_schema", "include_sample_schema"})
    if extra:
        raise InvalidRequest(f"Unknown parameter: '{param}.{extra[0]}'.", param=f"{param}.{extra[0]}")
    if "item_schema" not in raw:
        raise InvalidRequest(f"Missing required parameter: '{param}.item_schema'.", param=f"{param}.item_schema")
    include = raw.get("include_sample_schema", False)
    if not isinstance(include, bool):
        where = f"{param}.include_sample_schema"
        raise InvalidRequest(f"'{where}' must be a boolean.", param=where)
    item_schema = check_item_schema(raw["item_schema"], param=f"{param}.item_schema")
    return custom_config(item_schema, include_sample_schema=include)


def item_schema_of(config: dict[str, Any]) -> dict[str, Any]:
    """The item_schema inside a stored (returned-form) data_source_config."""
    return dict(config.get("schema", {}).get("properties", {}).get("item") or {})


def has_sample_schema(config: dict[str, Any]) -> bool:
    return "sample" in (config.get("schema", {}).get("properties") or {})


def item_properties(item_schema: dict[str, Any]) -> set[str] | None:
    """The property names an item may have, or None when the schema does not list them (anything goes)."""
    properties = item_schema.get("properties")
    if not isinstance(properties, dict) or (not properties and item_schema.get("additionalProperties") is not False):
        return None
    return set(properties)


def check_item_variables(item_schema: dict[str, Any], variables: list[tuple[str, Path]]) -> None:
    """A 400 naming the field of the first `{{item.x}}` whose `x` the schema's properties lack."""
    allowed = item_properties(item_schema)
    if allowed is None:
        return
    for where, (namespace, steps) in variables:
        if namespace != "item" or not steps:
            continue
        head = steps[0]
        if head not in allowed:
            listed = ", ".join(sorted(allowed)) or "none"
            raise InvalidRequest(
                f"'{where}': template variable {{{{item.{head}}}}} is not a property of the eval's item_schema "
                f"(its properties: {listed}).",
                param=where,
            )
