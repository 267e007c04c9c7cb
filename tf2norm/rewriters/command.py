"""`tf2norm migrate PATH...`: rewrite TF1 batch_norm and LayerNormBasicLSTMCell code for TF2 / Keras 3.

Exit status: 0 when nothing changed (or would change) and nothing was reported; 1 when a file changed
(or would change with --check/--diff), a finding remains, or a file could not be read, decoded,
parsed or written; 2 for a usage error or an internal error in a rewriter. Messages and findings go
to stderr, diffs and `-` (stdin) output to stdout. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import sys

import click

_TARGETS = ("keras", "compat")


def _ids(values) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@click.command("migrate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path(exists=True, allow_dash=True))
@click.option("--target", type=click.Choice(_TARGETS), default="keras", show_default=True,
              help="keras: Keras 3 layers with TF2 argument names. compat: tf2norm's TF1-signature "
                   "functions, for tf.compat.v1 graph code whose TF1 checkpoints must restore unchanged.")
@click.option("--diff", is_flag=True, help="Print a unified diff to stdout; write nothing.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file would change or a finding remains.")
@click.option("--format", "output_format", type=click.Choice(("text", "json", "github")), default="text",
              show_default=True,
              help="The report: text (on stderr: each file that changed or would change, the findings, a "
                   "summary), json (one document) or github (workflow annotations); json and github go to "
                   "stdout unless it carries code or a diff, then to stderr.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file instead.")
@click.option("--line-length", "-l", type=click.IntRange(min=1), default=None,
              help="Wrap emitted code to this many columns [default: line-length from [tool.black] or "
                   "[tool.ruff] above the file, else its longest line if 79 or more, else 88].")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Files processed in parallel (processes).")
@click.option("--only", multiple=True, metavar="ID[,ID]", help="Run only these rewriters.")
@click.option("--skip", multiple=True, metavar="ID[,ID]", help="Do not run these rewriters.")
@click.option("--list-rewriters", is_flag=True, help="List the rewriters and their finding codes, then exit.")
def migrate(paths, target, diff, check, output_format, output_file, line_length, jobs, only, skip,
            list_rewriters):
    """Rewrite TF1 contrib batch_norm and LayerNormBasicLSTMCell code for TF2 / Keras 3.

    PATH may be files, directories (every *.py below them) or `-` (stdin to stdout). Files are
    rewritten in place, atomically, unless --diff or --check is given.
    """
    from tf2norm import rewriters

    available = rewriters.available()
    if list_rewriters:
        for name, module in available.items():
            summary = " ".join((module.__doc__ or "").split("\n\n")[0].split())
            click.echo(f"{name}\n    {summary}")
            for finding, (message, _) in module.FINDINGS.items():
                click.echo(f"    {finding}  {message}")
        from tf2norm.rewriters import _findings

        click.echo("(every rewriter, and files that cannot be processed)")
        for finding, (message, _) in _findings.FINDINGS.items():
            click.echo(f"    {finding}  {message}")
        return
    unknown = [i for i in _ids(only) + _ids(skip) if i not in available]
    if unknown:
        raise click.BadParameter(f"unknown rewriter {unknown[0]!r}; known: {', '.join(available)}",
                                 param_hint="--only/--skip")
    if not paths:
        raise click.UsageError("no PATH given (use `-` for stdin)")
    if "-" in paths and len(paths) > 1:
        raise click.UsageError("`-` (stdin) cannot be combined with other paths")
    selected = tuple(i for i in (_ids(only) or available) if i not in _ids(skip))

    from tf2norm.rewriters import _driver, _report

    options = _driver.Options(target=target, rewriters=selected, write=not (diff or check), diff=diff,
                              line_length=line_length)
    stdin = paths == ("-",)
    if stdin:
        results = [_stdin(options)]
    else:
        results = _run(_driver, _driver.discover(paths), options, jobs)

    for result in results:
        if result.diff:
            click.echo(result.diff, nl=False)
    report = _report.render(results, output_format, written=options.write, stdin=stdin)
    # stdout carries the diff, or the migrated code of `-`; a report for tools goes there otherwise.
    _emit(report, output_file, to_stdout=output_format != "text" and not (diff or (stdin and options.write)))
    if any(r.internal for r in results):
        sys.exit(2)
    sys.exit(1 if any(r.changed or r.findings for r in results) else 0)


def _stdin(options):
    from tf2norm.rewriters import _driver

    data = sys.stdin.buffer.read()
    result = _driver.process_data(data, "-", options)
    if options.write:  # without --diff/--check, `-` is a filter: stdin in, migrated source out
        sys.stdout.buffer.write(result.output)
        sys.stdout.flush()
    return result


def _run(driver, files, options, jobs):
    show_progress = sys.stderr.isatty() and len(files) >= 20
    if jobs > 1 and len(files) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = pool.map(driver.process_file, files, [options] * len(files), chunksize=4)
            return _progress(results, len(files), show_progress)
    return _progress((driver.process_file(f, options) for f in files), len(files), show_progress)


def _progress(results, total, show):
    if not show:
        return list(results)
    with click.progressbar(results, length=total, label="migrating", file=sys.stderr) as bar:
        return list(bar)


def _emit(report: str, output_file: str | None, to_stdout: bool) -> None:
    if output_file is None:
        click.echo(report, nl=False, err=not to_stdout)
        return
    try:
        with open(output_file, "w", encoding="utf-8") as out:
            out.write(report)
    except OSError as error:
        click.echo(f"error: cannot write the report to {output_file}: {error.strerror or error}", err=True)
        sys.exit(2)
