"""The top of data_gen: the command line, the stage registry and `stage=all`.

`registry` maps stage names to their functions; `run_all` runs the pipeline stages in order,
resumably; `cli` is `python -m data_gen` (Hydra), which turns user errors into one line.
"""
