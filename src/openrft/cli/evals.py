"""`openrft evals ...`: list evals, show a run, and compare two runs side by side.

`compare RUN_A RUN_B` prints each testing criterion's pass rate in both runs (criteria matched by name,
so two evals with the same criteria compare too) and the items whose outcome changed, matched by
datasource_item_id. A run is found in `--eval` (and `--eval-b` for RUN_B when it is another eval's), or
else looked up among the project's evals.
"""

from __future__ import annotations

from typing import Annotated, Any

import openai
import typer

from openrft.cli.common import JsonOption, api_errors, console, get_config, print_json, print_table, timestamp
from openrft.evals.compare import changed_items, criteria_side_by_side, pass_rates
from openrft.evals.compare import rate_text as rate

evals_app = typer.Typer(help="Evals (OpenAI's Evals API): evals, runs, comparisons.", no_args_is_help=True)

MAX_CHANGED_SHOWN = 50


# -- pure parts (the comparison itself is openrft.evals.compare) ---------------------------------------


# -- talking to the server ------------------------------------------------------------------------------


def _find_run(client: openai.OpenAI, run_id: str, eval_id: str | None) -> Any:
    if eval_id is not None:
        return client.evals.runs.retrieve(run_id, eval_id=eval_id)
    for ev in client.evals.list(limit=100):
        for run in client.evals.runs.list(ev.id, limit=100):
            if run.id == run_id:
                return run
    console.print(f"[red]error:[/] no run {run_id} in this project's evals")
    raise typer.Exit(1)


def _items(client: openai.OpenAI, run: Any) -> list[dict[str, Any]]:
    pages = client.evals.runs.output_items.list(run.id, eval_id=run.eval_id, limit=100)
    return [item.model_dump(mode="json") for item in pages]


def _dump(run: Any) -> dict[str, Any]:
    return dict(run.model_dump(mode="json", by_alias=True))


@evals_app.command("list")
def list_evals(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The project's evals, oldest first."""
    with api_errors():
        data = list(get_config(ctx).openai().evals.list(limit=100))
    if as_json:
        print_json(data)
        return
    rows = [(e.id, e.name, len(e.testing_criteria), timestamp(e.created_at)) for e in data]
    print_table("evals", ["id", "name", "criteria", "created"], rows)


@evals_app.command("runs")
def list_runs(ctx: typer.Context, eval_id: str, as_json: JsonOption = False) -> None:
    """An eval's runs, oldest first, with their counts."""
    with api_errors():
        data = list(get_config(ctx).openai().evals.runs.list(eval_id, limit=100))
    if as_json:
        print_json(data)
        return
    rows = [
        (r.id, r.name, r.model, r.status, f"{r.result_counts.passed}/{r.result_counts.total}", timestamp(r.created_at))
        for r in data
    ]
    print_table(f"runs of {eval_id}", ["id", "name", "model", "status", "passed", "created"], rows)


@evals_app.command("compare")
def compare(
    ctx: typer.Context,
    run_a: str,
    run_b: str,
    eval_id: Annotated[str | None, typer.Option("--eval", help="The eval of RUN_A (and RUN_B).")] = None,
    eval_b: Annotated[str | None, typer.Option("--eval-b", help="RUN_B's eval, when not --eval.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Per-criterion pass rates of two runs side by side, and the items whose outcome changed."""
    with api_errors():
        client = get_config(ctx).openai()
        a = _find_run(client, run_a, eval_id)
        b = _find_run(client, run_b, eval_b or eval_id)
        items_a, items_b = _items(client, a), _items(client, b)
    run_a_dump, run_b_dump = _dump(a), _dump(b)
    rates_a = pass_rates(run_a_dump["per_testing_criteria_results"])
    rates_b = pass_rates(run_b_dump["per_testing_criteria_results"])
    changed = changed_items(items_a, items_b)
    if as_json:
        print_json(
            {
                "runs": [run_a_dump, run_b_dump],
                "criteria": {name: [rates_a.get(name), rates_b.get(name)] for name in {**rates_a, **rates_b}},
                "changed": [{"datasource_item_id": k, "a": sa, "b": sb} for k, sa, sb in changed],
            }
        )
        return
    head_a, head_b = f"A: {a.id} ({a.model or 'jsonl'})", f"B: {b.id} ({b.model or 'jsonl'})"
    side_by_side = criteria_side_by_side(run_a_dump["per_testing_criteria_results"],
                                         run_b_dump["per_testing_criteria_results"])  # fmt: skip
    rows = [(name, rate(in_a), rate(in_b)) for name, in_a, in_b in side_by_side]
    totals = (a.result_counts.passed, a.result_counts.total), (b.result_counts.passed, b.result_counts.total)
    rows.append(("all criteria (items passed)", rate(totals[0]), rate(totals[1])))
    print_table("pass rates", ["criterion", head_a, head_b], rows)
    by_id = {int(i["datasource_item_id"]): i for i in items_b + items_a}
    shown = [
        (k, sa or "-", sb or "-", str(by_id[k]["datasource_item"])[:80]) for k, sa, sb in changed[:MAX_CHANGED_SHOWN]
    ]
    print_table(f"{len(changed)} items changed outcome", ["datasource_item_id", "A", "B", "item"], shown)
    if len(changed) > MAX_CHANGED_SHOWN:
        console.print(f"... and {len(changed) - MAX_CHANGED_SHOWN} more (--json for all)")
