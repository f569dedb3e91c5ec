from __future__ import annotations

from taskbeat.cli.main import main

main()
