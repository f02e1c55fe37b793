"""Test helpers shared by every folder: ``writers`` (synthetic event files) is importable from all of them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
