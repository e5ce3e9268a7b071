"""Load a file of examples/ (not a package: each example folder stands alone) as a module."""

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example_module(example: str, relative_path: str) -> ModuleType:
    path = EXAMPLES / example / relative_path
    name = "example_" + re.sub(r"\W", "_", f"{example}_{path.stem}")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing need the module registered
    spec.loader.exec_module(module)
    return module
