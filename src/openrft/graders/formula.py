"""The safe evaluator of a multi grader's `calculate_output` formula.

Grammar (OpenAI's): numbers, sub-grader names, `+ - * / ^`, parentheses, unary minus, and the functions
`min max abs floor ceil exp sqrt log`. The formula is parsed by Python's `ast` after `^` becomes `**`
(so precedence is the usual mathematical one: `-a^2` is `-(a^2)`, `2*a^2` is `2*(a^2)`), then every node
is checked against a short allow-list; nothing is ever `eval`ed. Anything else (attributes, subscripts,
strings, keywords, comparisons, `__import__('os')`, unknown names) is a `FormulaError` at validation time.
All arithmetic is in floats, so `10^10^10` overflows instead of building a huge integer.

Limits: at most MAX_FORMULA_CHARS characters and MAX_FORMULA_DEPTH levels of nesting (an operator
chain counts one level per operator: `a+b+c` is 2 deep), so checking and evaluating, which recurse,
stay far from Python's recursion limit whatever a tenant sends.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping

FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "floor": lambda x: float(math.floor(x)),
    "ceil": lambda x: float(math.ceil(x)),
    "exp": math.exp,
    "sqrt": math.sqrt,
    "log": math.log,
}
_ARITY = {"min": (1, 64), "max": (1, 64), "abs": (1, 1), "floor": (1, 1), "ceil": (1, 1), "exp": (1, 1)}
_ARITY |= {"sqrt": (1, 1), "log": (1, 2)}
_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: math.pow,  # math.pow: a ValueError, never a complex number, for (-1)^0.5
}
_UNARY: dict[type, Callable[[float], float]] = {ast.USub: lambda a: -a, ast.UAdd: lambda a: a}
MAX_FORMULA_CHARS = 4096
MAX_FORMULA_DEPTH = 100


class FormulaError(ValueError):
    pass


def parse_formula(formula: str, names: Iterable[str]) -> ast.expr:
    """Parse and check a formula against the allowed grammar and the sub-grader `names`."""
    if not formula.strip():
        raise FormulaError("calculate_output is empty")
    if len(formula) > MAX_FORMULA_CHARS:
        raise FormulaError(f"calculate_output is longer than {MAX_FORMULA_CHARS} characters")
    if "**" in formula:
        raise FormulaError("use '^' for powers, '**' is not part of the formula language")
    try:
        tree = ast.parse(formula.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"cannot parse calculate_output {formula!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):  # CPython's parser gives up on e.g. 4,000 unary minuses
        raise FormulaError(f"calculate_output is nested more than {MAX_FORMULA_DEPTH} levels deep") from None
    if _depth(tree.body) > MAX_FORMULA_DEPTH:
        raise FormulaError(
            f"calculate_output is nested more than {MAX_FORMULA_DEPTH} levels deep (each operator in a chain "
            "like a+b+c counts one level); use fewer terms or min()/max() over several arguments"
        )
    _check(tree.body, set(names))
    return tree.body


def _depth(root: ast.AST) -> int:
    """The tree's depth, without recursion (the tree may be thousands of levels deep)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
    return deepest


def _check(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise FormulaError(f"only numbers are allowed as constants, not {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id not in names:
            known = ", ".join(sorted(names)) or "none"
            raise FormulaError(f"unknown name {node.id!r} in calculate_output (sub-graders: {known})")
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        _check(node.left, names)
        _check(node.right, names)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        _check(node.operand, names)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        low, high = _ARITY[node.func.id]
        if node.keywords or not low <= len(node.args) <= high:
            raise FormulaError(f"{node.func.id}() takes {low} to {high} positional arguments")
        for arg in node.args:
            _check(arg, names)
    else:
        raise FormulaError(f"{ast.unparse(node)!r} is not allowed in calculate_output")


def evaluate(tree: ast.expr, values: Mapping[str, float]) -> float:
    """Evaluate a checked formula; raises ArithmeticError/ValueError on e.g. division by zero."""
    node = tree
    if isinstance(node, ast.Constant):
        return float(node.value)  # type: ignore[arg-type]  # checked by _check
    if isinstance(node, ast.Name):
        return float(values[node.id])
    if isinstance(node, ast.BinOp):
        return float(_BINARY[type(node.op)](evaluate(node.left, values), evaluate(node.right, values)))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](evaluate(node.operand, values))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return float(FUNCTIONS[node.func.id](*(evaluate(arg, values) for arg in node.args)))
    raise FormulaError(f"unexpected node {ast.dump(node)}")  # unreachable after parse_formula
