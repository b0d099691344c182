"""The `lowranklab` command (typer app in `cli.app`) and the glue between saved files and the
solvers (`cli.solve`, `cli.min_norm`). Imports nothing heavy: `lowranklab --help` starts fast."""

from lowranklab.cli.app import app, main

__all__ = ["app", "main"]
