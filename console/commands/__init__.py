"""`kanri` subcommands, one module per area; console/cli.py gathers them."""
