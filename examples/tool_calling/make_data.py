"""Write the tool-calling example's data files from the tables below.

Each row offers the same three functions (weather, currency conversion, timer) and asks for one of them
in words: the model has to pick the function and fill its arguments from the request. Requests are
built from phrasings x argument values; every third (function, arguments) combination goes to the
validation file, so held-out rows ask for argument combinations the model never saw in training.
Deterministic: running it twice writes the same bytes.

    data/train.jsonl, data/valid.jsonl          RFT rows: messages, tools, expected_call (OpenAI shape:
                                                name + arguments) and ground_truth (the same call written
                                                as BFCL writes it, `name(arg='value')`, for AWS's reward)
    data/sft_train.jsonl, data/sft_valid.jsonl  the same requests answered with the call (an assistant
                                                turn with tool_calls), for a supervised warm start

    python examples/tool_calling/make_data.py
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city", "unit"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "convert_currency",
            "description": "Convert an amount between currencies (ISO codes).",
            "parameters": {
                "type": "object",
                "properties": {
                    "amount": {"type": "number"},
                    "from_currency": {"type": "string"},
                    "to_currency": {"type": "string"},
                },
                "required": ["amount", "from_currency", "to_currency"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "set_timer",
            "description": "Start a countdown timer.",
            "parameters": {
                "type": "object",
                "properties": {"minutes": {"type": "integer"}, "label": {"type": "string"}},
                "required": ["minutes", "label"],
                "additionalProperties": False,
            },
        },
    },
]

CITIES = ["Paris", "Tokyo", "Lima", "Oslo", "Cairo", "Denver", "Madrid", "Seoul", "Nairobi"]
UNITS = {"celsius": "in celsius", "fahrenheit": "in fahrenheit"}
WEATHER_ASKS = [
    "What's the weather in {city} {unit}?",
    "Tell me the current weather for {city}, {unit} please.",
    "How warm is it in {city} right now? Give it {unit}.",
]
CURRENCIES = [("USD", "EUR"), ("GBP", "JPY"), ("EUR", "CHF"), ("CAD", "USD"), ("AUD", "INR"), ("JPY", "KRW")]
AMOUNTS = [20, 75, 150, 1200]
CURRENCY_ASKS = [
    "Convert {amount} {src} to {dst}.",
    "How much is {amount} {src} in {dst}?",
    "I have {amount} {src}; what is that in {dst}?",
]
LABELS = ["tea", "pasta", "laundry", "workout", "meeting", "bread"]
MINUTES = [3, 10, 25, 45]
TIMER_ASKS = [
    "Set a {minutes} minute timer for {label}.",
    "Start a timer labelled {label} for {minutes} minutes.",
    "Remind me in {minutes} minutes: {label}.",
]


def bfcl_call(name: str, arguments: dict[str, Any]) -> str:
    """A call as BFCL's ground truth writes it: `name(key=<Python literal>, ...)`."""
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in arguments.items()) + ")"


def requests() -> list[tuple[str, str, dict[str, Any]]]:
    """(request, function name, arguments), in a fixed order."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for i, (city, unit) in enumerate(itertools.product(CITIES, UNITS)):
        ask = WEATHER_ASKS[i % len(WEATHER_ASKS)]
        out.append((ask.format(city=city, unit=UNITS[unit]), "get_weather", {"city": city, "unit": unit}))
    for i, ((src, dst), amount) in enumerate(itertools.product(CURRENCIES, AMOUNTS)):
        ask = CURRENCY_ASKS[i % len(CURRENCY_ASKS)]
        args = {"amount": amount, "from_currency": src, "to_currency": dst}
        out.append((ask.format(amount=amount, src=src, dst=dst), "convert_currency", args))
    for i, (label, minutes) in enumerate(itertools.product(LABELS, MINUTES)):
        ask = TIMER_ASKS[i % len(TIMER_ASKS)]
        out.append((ask.format(minutes=minutes, label=label), "set_timer", {"minutes": minutes, "label": label}))
    return out


def expand(rows: list[tuple[str, str, dict[str, Any]]], phrasings: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Each combination asked in `phrasings` wordings (the tables' phrasings rotated)."""
    tables = {"get_weather": WEATHER_ASKS, "convert_currency": CURRENCY_ASKS, "set_timer": TIMER_ASKS}
    out = []
    for request, name, args in rows:
        asks = tables[name]
        start = next(k for k, ask in enumerate(asks) if _fill(ask, name, args) == request)
        for k in range(phrasings):
            out.append((_fill(asks[(start + k) % len(asks)], name, args), name, args))
    return out


def _fill(ask: str, name: str, args: dict[str, Any]) -> str:
    if name == "get_weather":
        return ask.format(city=args["city"], unit=UNITS[args["unit"]])
    if name == "convert_currency":
        return ask.format(amount=args["amount"], src=args["from_currency"], dst=args["to_currency"])
    return ask.format(minutes=args["minutes"], label=args["label"])


def rft_row(request: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": request}],
        "tools": TOOLS,
        "expected_call": {"name": name, "arguments": args},
        "ground_truth": [bfcl_call(name, args)],
    }


def sft_row(request: str, name: str, args: dict[str, Any], index: int) -> dict[str, Any]:
    call = {"id": f"call_{index:04d}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
    return {
        "messages": [
            {"role": "user", "content": request},
            {"role": "assistant", "content": None, "tool_calls": [call]},
        ],
        "tools": TOOLS,
    }


def build() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train rows, valid rows): every third combination is held out; train asks each other one three ways."""
    combos = requests()
    held = [c for i, c in enumerate(combos) if i % 3 == 2]
    kept = [c for i, c in enumerate(combos) if i % 3 != 2]
    return [rft_row(*c) for c in expand(kept, 3)], [rft_row(*c) for c in held]


def build_sft() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    train, valid = build()

    def demo(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            sft_row(r["messages"][0]["content"], r["expected_call"]["name"], r["expected_call"]["arguments"], i)
            for i, r in enumerate(rows)
        ]

    return demo(train), demo(valid)


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    train, valid = build()
    sft_train, sft_valid = build_sft()
    write(HERE / "data" / "train.jsonl", train)
    write(HERE / "data" / "valid.jsonl", valid)
    write(HERE / "data" / "sft_train.jsonl", sft_train)
    write(HERE / "data" / "sft_valid.jsonl", sft_valid)
    print(f"{len(train)} train, {len(valid)} valid rows (+ the same as supervised demonstrations)")


if __name__ == "__main__":
    main()
