"""``python -m dynascope``: the command line (same as the ``dynascope`` command)."""

from .cli import main

if __name__ == "__main__":
    main()
