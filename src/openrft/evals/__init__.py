"""OpenAI's Evals, served here: an eval is testing criteria (our graders) over items of a declared schema;
a run grades a data source (rows with samples, or completions a served model generates) against them.

    criteria.py     testing criteria: validation (`parse_criteria`) and grading with pass rules (`grade_items`)
    definitions.py  an eval's data_source_config: item_schema checks, OpenAI's {item, sample} wrapping
    datasource.py   a run's data source: validation, its items (`load_items`), prompt templates (`render_input`)

The runner that executes queued runs (records.py, runner.py) is the worker's side; the HTTP layer is
openrft.api.evals.
"""
