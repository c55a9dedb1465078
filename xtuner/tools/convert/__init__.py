"""``xtuner convert ...`` sub-commands."""
