"""Where notereader finds its rubric and model directories.

Order: an explicit argument, then the environment (NOTEREADER_RUBRICS_DIR,
NOTEREADER_MODELS_DIR), then the directories at the root of the source tree.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
PIPELINE_DATA_DIR = PACKAGE_DIR / "pipeline" / "data"
SAMPLE_NOTES = PACKAGE_DIR / "data" / "sample_notes.jsonl"


def rubrics_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("NOTEREADER_RUBRICS_DIR")
    return Path(env) if env else PROJECT_ROOT / "rubrics"


def models_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("NOTEREADER_MODELS_DIR")
    return Path(env) if env else PROJECT_ROOT / "models"
