"""Import one of scripts/*.py as a module, for the harness self-tests."""

import importlib.util
import os

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_script(name):
    """scripts/NAME.py, loaded as module NAME."""
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(TOP, "scripts", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
