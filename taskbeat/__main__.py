from __future__ import annotations

from taskbeat.cli import main

main()
