"""The jobs behind the scripts: each run(...) takes plain arguments, writes outputs, skips finished ones."""
