"""`python -m lowranklab.cli` (same as `lowranklab`)."""

from lowranklab.cli.app import main

main()
