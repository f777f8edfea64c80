"""Allows ``python -m notereader ...``."""

from notereader.cli import main

raise SystemExit(main())
