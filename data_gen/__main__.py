"""`python -m data_gen stage=<name> out_dir=<dir> [overrides]`: see data_gen/pipeline/cli.py."""

from data_gen.pipeline.cli import main

if __name__ == "__main__":
    main()
