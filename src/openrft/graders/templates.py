"""OpenAI grader templates: `{{ item.x }}`, `{{ sample.output_json.a[0]["b c"] }}` inside strings.

A template names a namespace (`item` or `sample`) then a path of `.name`, `[index]` or `["key"]` steps.
Syntax is checked once at validation time (`check_template`); rendering (`render`) resolves each
variable against one sample's namespaces and raises `GradeError("invalid_variable_error")` when a step
is missing, so a bad row costs that sample its reward, never the batch. Strings render as themselves,
every other value as compact JSON (`{{ sample.choices }}` -> `[{"index": 0, ...}]`).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from openrft.graders.errors import GradeError

NAMESPACES = ("item", "sample")
_VARIABLE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_STEP = re.compile(r"""\s*(?:\.\s*([A-Za-z_][\w\-]*)|\[\s*(-?\d+)\s*\]|\[\s*(?:"([^"]*)"|'([^']*)')\s*\])""")
_HEAD = re.compile(r"\s*([A-Za-z_]\w*)")

Path = tuple[str, tuple[str | int, ...]]  # (namespace, steps)


class TemplateSyntaxError(ValueError):
    pass


@lru_cache(maxsize=4096)
def parse_variable(expr: str) -> Path:
    """`' sample.output_tools[0].function.name '` -> ("sample", (output_tools, 0, function, name))."""
    head = _HEAD.match(expr)
    if head is None or head.group(1) not in NAMESPACES:
        raise TemplateSyntaxError(
            f"template variable {{{{{expr.strip()}}}}} must start with one of: {', '.join(NAMESPACES)}"
        )
    pos, steps = head.end(), list[str | int]()
    while expr[pos:].strip():
        m = _STEP.match(expr, pos)
        if m is None:
            raise TemplateSyntaxError(f"cannot parse template variable {{{{{expr.strip()}}}}} at {expr[pos:]!r}")
        name, index, key_dq, key_sq = m.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(name if name is not None else (key_dq if key_dq is not None else key_sq))
        pos = m.end()
    return head.group(1), tuple(steps)


def variables(template: str) -> list[Path]:
    """Every variable of a template, parsed; raises TemplateSyntaxError on the first bad one."""
    if template.count("{{") != template.count("}}"):
        raise TemplateSyntaxError(f"unbalanced '{{{{' and '}}}}' in template {template!r}")
    return [parse_variable(m.group(1)) for m in _VARIABLE.finditer(template)]


def check_template(template: str) -> None:
    variables(template)


def _step_into(value: Any, step: str | int) -> Any:
    if isinstance(step, int):
        if isinstance(value, list) and -len(value) <= step < len(value):
            return value[step]
        raise KeyError(step)
    if isinstance(value, dict) and step in value:
        return value[step]
    raise KeyError(step)


def resolve(path: Path, env: dict[str, Any]) -> Any:
    namespace, steps = path
    value: Any = env.get(namespace)
    wants_json = namespace == "sample" and steps[:1] == ("output_json",) and env.get("json_expected")
    if wants_json and isinstance(value, dict) and value.get("output_json") is None:
        raise GradeError("sample_parse_error", "the sample is not valid JSON, as the response_format requires")
    shown = namespace
    for step in steps:
        try:
            value = _step_into(value, step)
        except KeyError:
            raise GradeError("invalid_variable_error", f"{shown} has no {step!r}") from None
        shown += f"[{step}]" if isinstance(step, int) else f".{step}"
    if value is None and namespace == "sample" and len(steps) == 1:
        raise GradeError("invalid_variable_error", f"{shown} is not available for this sample")
    return value


def to_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def render(template: str, env: dict[str, Any]) -> str:
    """Substitute every `{{ ... }}` of `template` from env = {"item": {...}, "sample": {...}}."""
    return _VARIABLE.sub(lambda m: to_text(resolve(parse_variable(m.group(1)), env)), template)
