"""`tf2norm upgrade`: TensorFlow's own tf_upgrade_v2, for the TF1 programs it crashes on.

The command checks its arguments and that tf_upgrade_v2 is installed without importing TensorFlow,
then runs ``python -m tf2norm.upgrade.runner`` with this interpreter (TensorFlow is imported there
only). Exit status: 0 every file converted; 1 a file could not be converted (copied unchanged and
reported); 2 a usage error, tf_upgrade_v2 not installed, or a file that cannot be read or written
(one line; nothing written for a usage error); 3 an internal error.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import click

from tf2norm import exit_codes

_MODES = ("DEFAULT", "SAFETY")


def _tf_upgrade_v2_missing() -> str | None:
    """Why tf_upgrade_v2 cannot run here (one line), found without importing TensorFlow; None if it can."""
    try:
        spec = importlib.util.find_spec("tensorflow")
        pasta = importlib.util.find_spec("pasta")
    except (ImportError, ValueError):
        spec = pasta = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    upgrader = any((Path(p) / "tools" / "compatibility" / "tf_upgrade_v2_main.py").is_file() for p in locations)
    if not upgrader or pasta is None:
        return ("tf2norm upgrade runs TensorFlow's tf_upgrade_v2, which is not installed here: "
                "pip install 'tf2norm[tf]' (or any TensorFlow 2.x distribution)")
    return None


def _usage(message: str) -> None:
    raise click.UsageError(message)


@click.command("upgrade", context_settings={"help_option_names": ["-h", "--help"]}, epilog=(
    "Exit status: 0 every file converted; 1 a file could not be converted (copied unchanged, reported); "
    "2 usage error, tf_upgrade_v2 not installed, or a file that cannot be read or written; 3 internal "
    "error (a tf2norm bug: please report it)."))
@click.option("--infile", "input_file", type=click.Path(exists=True, dir_okay=False),
              help="Convert this one file (.py or .ipynb).")
@click.option("--outfile", "output_file", type=click.Path(dir_okay=False), help="Where --infile's result goes.")
@click.option("--intree", "input_tree", type=click.Path(exists=True, file_okay=False),
              help="Convert every .py file below this directory.")
@click.option("--outtree", "output_tree", type=click.Path(file_okay=False),
              help="Where --intree's result goes; it must not exist yet.")
@click.option("--copyotherfiles", "copy_other_files", type=click.BOOL, default=True, show_default=True,
              help="With --intree/--outtree, copy the files that are not .py too (true/false; "
                   "tf_upgrade_v2 itself takes any non-empty value as true).")
@click.option("--inplace", "in_place", is_flag=True, help="Convert the input file or tree in place.")
@click.option("--no_import_rename", is_flag=True, help="Do not rename imports to compat.v2 explicitly.")
@click.option("--no_upgrade_compat_v1_import", is_flag=True,
              help="Leave explicit imports of tensorflow.compat.v1 as tf as they are.")
@click.option("--reportfile", "report_filename", type=click.Path(dir_okay=False), default="report.txt",
              show_default=True, help="Where tf_upgrade_v2's report goes.")
@click.option("--mode", type=click.Choice(_MODES), default="DEFAULT", show_default=True,
              help="DEFAULT: straightforward conversions, compat.v1 where harder. SAFETY: keep 1.x code "
                   "and import the compat.v1 module.")
@click.option("--print_all", is_flag=True, help="Print the whole log to stdout, not only the errors.")
def upgrade(input_file, output_file, input_tree, output_tree, copy_other_files, in_place, no_import_rename,
            no_upgrade_compat_v1_import, report_filename, mode, print_all):
    """Run TensorFlow's tf_upgrade_v2 (same flags, same report, same output on every file it converts),
    with two differences:

    \b
    1. pasta's parser bug on Python >= 3.9 is fixed: a subscript holding a slice whose
       bounds are parenthesised, y[(a+1):(b+2), :], makes tf_upgrade_v2 stop the whole
       run with "AnnotationError: Expected ':' but found ')'"; here it is converted,
       parentheses kept.
    2. A .py file that still cannot be converted (a syntax error, which tf_upgrade_v2
       turns into an empty output file) does not abort the tree: it is copied unchanged
       (left alone with --inplace), named on stderr and as an ERROR in the report, and
       the exit status is 1.

    Files are written atomically with the input's permissions. Then run `tf2norm migrate`
    on the result. TensorFlow (with its tf_upgrade_v2 and pasta) must be installed.
    """
    if input_file and input_tree:
        _usage("give either --infile or --intree, not both")
    if not input_file and not input_tree:
        _usage("give --infile FILE (with --outfile FILE or --inplace) "
               "or --intree DIR (with --outtree DIR or --inplace)")
    if input_file:
        if output_tree:
            _usage("--outtree goes with --intree, not --infile")
        if in_place == bool(output_file):
            _usage("--infile needs exactly one of --outfile FILE and --inplace")
    if input_tree:
        if output_file:
            _usage("--outfile goes with --infile, not --intree")
        if in_place == bool(output_tree):
            _usage("--intree needs exactly one of --outtree DIR and --inplace")
        if output_tree and os.path.lexists(output_tree):
            _usage(f"--outtree {output_tree} already exists (tf_upgrade_v2 writes a new directory)")
        if output_tree and os.path.normpath(output_tree) == os.path.normpath(input_tree):
            _usage("--outtree is --intree; use --inplace")
    for flag, path in (("--outfile", output_file), ("--reportfile", report_filename)):
        directory = os.path.dirname(path) if path else ""
        if directory and not os.path.isdir(directory):
            _usage(f"{flag} {path}: no directory {directory}")
    missing = _tf_upgrade_v2_missing()
    if missing:
        click.echo(f"error: {missing}", err=True)
        sys.exit(exit_codes.BAD_INPUT)

    argv = []
    for flag, value in (("--infile", input_file), ("--outfile", output_file), ("--intree", input_tree),
                        ("--outtree", output_tree), ("--reportfile", report_filename), ("--mode", mode)):
        if value:
            argv += [flag, value]
    # tf_upgrade_v2 parses --copyotherfiles with bool(): only the empty string is false.
    argv += ["--copyotherfiles", "1" if copy_other_files else ""]
    for flag, value in (("--inplace", in_place), ("--no_import_rename", no_import_rename),
                        ("--no_upgrade_compat_v1_import", no_upgrade_compat_v1_import),
                        ("--print_all", print_all)):
        if value:
            argv.append(flag)
    done = subprocess.run([sys.executable, "-m", "tf2norm.upgrade.runner", *argv])
    sys.exit(done.returncode if done.returncode in (0, 1, 2, 3) else exit_codes.INTERNAL)
