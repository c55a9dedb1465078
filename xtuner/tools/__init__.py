"""Command-line tools: one module per ``xtuner`` command, each with ``main(argv)``."""
