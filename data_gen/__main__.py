"""`python -m data_gen stage=<name> out_dir=<dir> [overrides]`: see data_gen/cli.py."""

from data_gen.cli import main

if __name__ == "__main__":
    main()
