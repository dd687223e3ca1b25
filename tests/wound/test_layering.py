"""``wound/`` is the core: importing all of it (CLI included) loads none of the other packages."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_no_training_labeling_or_dashboard() -> None:
    code = (
        "import pkgutil, importlib, sys, wound\n"
        "for m in pkgutil.walk_packages(wound.__path__, 'wound.'):\n"
        "    importlib.import_module(m.name)\n"
        "others = ('training', 'labeling', 'dashboard')\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in others]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
