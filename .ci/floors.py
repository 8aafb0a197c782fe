"""Print the oldest dependencies pyproject.toml allows, as pins: numpy>=1.26 becomes numpy==1.26.

The core dependencies, and the codecs extra while it is one. `.ci/run` installs them
and runs a part of the tests, so that every lower bound is a version that was tested.
"""

import re
import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
requirements = project["dependencies"] + project["optional-dependencies"].get("codecs", [])
for requirement in requirements:
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    floor = re.search(r">=\s*([^,;\s]+)", requirement)
    if name is None or floor is None:
        sys.exit(f"floors.py: {requirement!r} has no lower bound (>=)")
    print(f"{name.group()}=={floor.group(1)}")
