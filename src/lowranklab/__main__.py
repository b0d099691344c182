"""`python -m lowranklab` (same as `lowranklab`)."""

from lowranklab.cli.app import main

main()
