"""notereader: deterministic case-note intelligence.

Reads free-text case notes and scores them against plain-language rubric files
and the client's plan goals. Every finding cites the exact characters it rests
on, and the same note, rubrics and model files always give byte-identical
results (see ``notereader.version.ENGINE_VERSION``).
"""

from notereader.version import ENGINE_VERSION

__all__ = ["ENGINE_VERSION"]
__version__ = "0.1.0"
