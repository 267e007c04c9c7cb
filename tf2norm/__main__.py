"""`python -m tf2norm ...`: the same command as the `tf2norm` script."""

from tf2norm.cli import main

if __name__ == "__main__":
    main(prog_name="tf2norm")
