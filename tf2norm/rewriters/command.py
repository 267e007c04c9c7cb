"""`tf2norm migrate PATH...`: rewrite TF1 normalisation code for TF2 / Keras 3 (every API in README's table).

Exit status (tf2norm.exit_codes, shared with `tf2norm checkpoint`): 0 when nothing changed (or would
change) and nothing was reported; 1 when a file changed (or would change with --check/--diff), a
finding remains, or a file could not be read, decoded, parsed or written; 2 for a usage error; 3 for
an internal error in a rewriter (the other files are still processed). Messages and findings go to
stderr, diffs and `-` (stdin) output to stdout. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import signal
import sys

import click

from tf2norm import exit_codes

_TARGETS = ("keras", "compat")


def _ids(values) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@click.command("migrate", context_settings={"help_option_names": ["-h", "--help"]}, epilog=exit_codes.HELP)
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
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Files processed in parallel (processes; at most one per file and per CPU) [default: the "
                   "CPUs this process may run on]. --jobs 1 processes them in this process.")
@click.option("--exclude", multiple=True, metavar="PATTERN[,PATTERN]",
              help="gitignore-style patterns of files and directories to leave out, replacing the defaults "
                   "(hidden directories, venv, build, dist, node_modules, __pycache__, ...).")
@click.option("--extend-exclude", multiple=True, metavar="PATTERN[,PATTERN]",
              help="Patterns to leave out in addition to the defaults.")
@click.option("--force-exclude", is_flag=True,
              help="Apply the exclusions (and .gitignore) to files named on the command line too, as "
                   "pre-commit needs.")
@click.option("--respect-gitignore/--no-respect-gitignore", default=True, show_default=True,
              help="Leave out what .gitignore files ignore.")
@click.option("--file-timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              metavar="SECONDS", help="Time budget per file; a file that needs more is reported (TF2N007).")
@click.option("--only", multiple=True, metavar="ID[,ID]", help="Run only these rewriters.")
@click.option("--skip", multiple=True, metavar="ID[,ID]", help="Do not run these rewriters.")
@click.option("--list-rewriters", is_flag=True, help="List the rewriters and their finding codes, then exit.")
def migrate(paths, target, diff, check, output_format, output_file, line_length, jobs, exclude, extend_exclude,
            force_exclude, respect_gitignore, file_timeout, only, skip, list_rewriters):
    """Rewrite TF1 normalisation code for TF2 / Keras 3, with TF1's numbers.

    APIs: tf.contrib.layers.batch_norm / layer_norm (and slim's), tf.layers.batch_normalization /
    BatchNormalization, tf.contrib.rnn.LayerNormBasicLSTMCell with MultiRNNCell, DropoutWrapper and
    dynamic_rnn, tensorflow-addons' LayerNormLSTMCell, LayerNormSimpleRNNCell, GroupNormalization and
    InstanceNormalization; hand-written layer-norm GRU and recurrent batch-norm LSTM cells.
    `--list-rewriters` lists them with every finding code.

    PATH may be files, directories (every *.py below them; notebooks are checked and reported) or
    `-` (stdin to stdout). Files are rewritten in place, atomically, keeping mode and owner, unless
    --diff or --check is given. Hidden directories, virtual environments, build outputs and what
    .gitignore ignores are left out (see --exclude); symlinks out of the tree are not followed.
    """
    from tf2norm import rewriters

    available = rewriters.available()
    if list_rewriters:
        for name, rewriter in available.items():
            click.echo(f"{name}\n    {rewriters.summary(name)}")
            for rule in rewriter.rules.values():
                click.echo(f"    {rule.code}  {rule.message}")
        from tf2norm.rewriters import _findings

        click.echo("(every rewriter, and files that cannot be processed)")
        for rule in _findings.RULES.values():
            click.echo(f"    {rule.code}  {rule.message}")
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
    try:  # exclusions and report paths are relative to it; every os.path.abspath needs it
        os.getcwd()
    except FileNotFoundError:
        raise click.UsageError("the current directory no longer exists (deleted while the shell was in it); "
                               "cd to an existing directory and run again") from None

    from tf2norm.rewriters import _driver, _files, _report

    options = _driver.Options(target=target, rewriters=selected, write=not (diff or check), diff=diff,
                              file_timeout=file_timeout, line_length=line_length)
    stdin = paths == ("-",)
    if stdin:
        results = [_stdin(options)]
    else:
        selection = _files.Selection(
            exclude=tuple(_ids(exclude)) if exclude else _files.DEFAULT_EXCLUDE,
            extend_exclude=tuple(_ids(extend_exclude)), force_exclude=force_exclude,
            respect_gitignore=respect_gitignore)
        files, skipped = _files.discover(paths, selection)
        results = [_driver.Result(f.path, findings=[f], failed=True) for f in skipped]
        results += _run(_driver, files, options, jobs, project=True)

    for result in results:
        if result.diff:
            click.echo(result.diff, nl=False)
    report = _report.render(results, output_format, written=options.write, stdin=stdin)
    # stdout carries the diff, or the migrated code of `-`; a report for tools goes there otherwise.
    _emit(report, output_file, to_stdout=output_format != "text" and not (diff or (stdin and options.write)))
    if any(r.internal for r in results):
        sys.exit(exit_codes.INTERNAL)
    sys.exit(exit_codes.CHANGED if any(r.changed or r.findings for r in results) else exit_codes.OK)


def _stdin(options):
    from tf2norm.rewriters import _driver

    data = sys.stdin.buffer.read()
    result = _driver.guarded(lambda: _driver.process_data(data, "-", options), "-", options.file_timeout)
    if result.output is None:  # over budget or a crash: `-` still echoes its input
        result.output = data
    if options.write:  # without --diff/--check, `-` is a filter: stdin in, migrated source out
        sys.stdout.buffer.write(result.output)
        sys.stdout.flush()
    return result


def _run(driver, files, options, jobs, project=False):
    """The Results of `files`; with `project`, the files are first scanned for the TensorFlow names
    they re-export (_project.scan), which every file's migration then reads."""
    show_progress = sys.stderr.isatty() and len(files) >= 20
    jobs = min(jobs or _cpus(), len(files), _cpus())
    previous = signal.getsignal(signal.SIGTERM)
    received = _terminate_cleanly()
    # What is alive now (modules, the rewriters' tables) is never garbage: the collection after each
    # file (_collected) then scans only what the files made. --jobs workers inherit it when forked.
    gc.freeze()
    try:
        results = _run_files(driver, files, options, jobs, show_progress, received, project)
        if received:  # its SystemExit was swallowed (see _terminate_cleanly)
            raise SystemExit(128 + received[0])
        return results
    finally:
        gc.unfreeze()
        if previous is not None and _main_thread():
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _run_files(driver, files, options, jobs, show_progress, received=(), project=False):
    if jobs > 1:
        # What the workers' initializer and SIGTERM handler import is imported here first: a worker
        # forked while another thread of ours held an import lock would otherwise deadlock on it,
        # before it could ask to die with us.
        import ctypes  # noqa: F401
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        from tf2norm.rewriters import _files  # noqa: F401

        pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_dies_with, initargs=(os.getpid(),))
        try:
            if project:  # the scan reads and parses most files: in the workers too, a chunk each
                scans = [pool.submit(_scan, files[i:i + _SCAN_CHUNK]) for i in range(0, len(files), _SCAN_CHUNK)]
                reexports = {path: names for f in scans for path, names in f.result().items()}
                options = dataclasses.replace(options, reexports=reexports)
            # Not pool.map: its iterator, interrupted, cancels the futures left from this thread, and
            # CPython 3.11's manager thread, finding the workers dead too (SIGTERM to the whole process
            # group), then fails on them (terminate_broken: set_exception on a cancelled future raises
            # InvalidStateError, fixed in 3.12 by gh-107219) before closing the call queue's reader: the
            # queue's feeder thread stays blocked writing to it, and the interpreter's exit joins that
            # thread forever. Here only shutdown(cancel_futures=True) cancels, in the manager thread.
            futures = [pool.submit(_process_files, driver.process_file, files[i:i + _CHUNK], options)
                       for i in range(0, len(files), _CHUNK)]
            results = _progress(_until_stopped((r for f in futures for r in f.result()), received), len(files),
                                show_progress)
        except BaseException as error:  # Ctrl-C, SIGTERM, a worker killed: the files not started are not started
            _stop(pool)
            if isinstance(error, BrokenProcessPool):
                click.echo("error: a worker process died (killed by a signal: out of memory?) and the run stopped; "
                           "no file was left half-written. Run again (--jobs 1 shows which file).", err=True)
                sys.exit(exit_codes.INTERNAL)
            raise
        pool.shutdown()
        return results
    if project:
        options = dataclasses.replace(options, reexports=_scan(files))
    return _progress(_until_stopped((_collected(driver.process_file, f, options) for f in files), received), len(files),
                     show_progress)


def _until_stopped(results, received):
    """`results`, until a signal is `received` (checked between files)."""
    for result in results:
        if received:
            raise SystemExit(128 + received[0])
        yield result


_CHUNK = 4  # files per task sent to a worker
_SCAN_CHUNK = 32  # files per scan task: a scan is a parse, a tenth of a migration


def _scan(files):
    """{path: re-exported names} of the `files` that re-export the TensorFlow names the rewriters act on."""
    from tf2norm.rewriters import _driver, _project

    _, legacy, module_paths = _driver._registry()
    return _project.scan(files, (legacy | module_paths).__contains__)


def _process_files(process_file, files, options):
    return [_collected(process_file, f, options) for f in files]


def _collected(process_file, path, options):
    """`process_file(path, options)` with Python's cyclic garbage collector run once after it, not during it.

    A file's LibCST tree and analysis are up to millions of objects, alive until the file is done; the
    collector's automatic passes (one every 700 new objects) scanned them again and again, a sixth of
    a migration. One collection at the end frees what the file left in cycles, so memory stays as it was.
    """
    if not gc.isenabled():  # the caller manages the collector
        return process_file(path, options)
    gc.disable()
    try:
        return process_file(path, options)
    finally:
        gc.enable()
        gc.collect()


def _stop(pool) -> None:
    """Stop the workers now and return once the pool has cleaned up after them."""
    # SIGTERM: each worker removes the temporary it is writing and exits (_worker_dies_with), so the
    # files it was migrating stay as they were. _processes is private (3.14 has terminate_workers());
    # without it the running tasks are waited for, as before.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    # wait=True: the manager thread has closed the queues and joined their threads before we exit, so
    # nothing is left for the interpreter's exit to wait on.
    pool.shutdown(wait=True, cancel_futures=True)


def _cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which containers and `taskset` narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _terminate_cleanly() -> list[int]:
    """SIGTERM ends the run as Ctrl-C does: the file being replaced is left whole, its temporary removed.

    Returns the signals received: Python prints and drops the SystemExit of a handler that runs inside
    an at-fork or weakref callback or a __del__ (a worker being forked), so the run checks them too.
    """
    received: list[int] = []

    def stop(signum, frame):
        received.append(signum)
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (an embedding application): leave its handlers alone
        pass
    return received


def _worker_dies_with(parent: int) -> None:
    """In each worker process: exit when the parent dies, however it dies (SIGKILL included)."""
    # Imported here, not in the handler: a handler that imports can run in the middle of that same
    # import (SIGTERM right after the pool started the worker) and fail on the half-made module,
    # leaving the worker alive with its parent gone.
    import threading
    import time
    from multiprocessing.connection import Connection
    from multiprocessing.queues import SimpleQueue

    from tf2norm.rewriters import _files

    # A worker stopped in the middle of sending a result leaves half of it in the pipe, and the pool's
    # manager thread in the parent waits forever for the rest (the parent holds the pipe's other
    # writing end). So a SIGTERM that comes while a result is being sent (SimpleQueue.put, called by
    # CPython's worker loop, _process_worker, whose result_queue is its caller's) ends the worker
    # right after the send, or after 10 s if nobody reads it (the parent is gone).
    send = {SimpleQueue.put.__code__, Connection.send_bytes.__code__}  # and what they call
    stopping: list[int] = []

    def sending(frame) -> bool:
        while frame is not None:
            if frame.f_code in send:
                return True
            frame = frame.f_back
        return False

    def exit_now(signum):
        try:
            _files.remove_in_progress()
        finally:
            os._exit(128 + signum)

    results = sys._getframe(1).f_locals.get("result_queue")
    if isinstance(results, SimpleQueue):
        put = results.put

        def put_then_stop(obj):
            put(obj)
            if stopping:
                exit_now(stopping[0])

        results.put = put_then_stop  # type: ignore[method-assign]

    def stop(signum, frame):
        if sending(frame):
            stopping.append(signum)
            timer = threading.Timer(10, exit_now, (signum,))
            timer.daemon = True
            timer.start()
            return
        # A worker's task cannot be unwound (the pool would catch the exception and wait for the
        # next file): remove the temporary being written, if any, and exit at once, whatever happens.
        exit_now(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops the pool
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: Linux tells us when the parent goes
    except (OSError, AttributeError):
        def watch():  # elsewhere: notice the re-parenting
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(exit_codes.INTERNAL)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(exit_codes.INTERNAL)


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
