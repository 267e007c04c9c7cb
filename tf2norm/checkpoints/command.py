"""``tf2norm checkpoint inspect|convert|verify``: click glue over tf2norm.checkpoints.

TensorFlow is imported inside the commands only, so ``tf2norm --help`` stays fast, and with its
start-up log lines silenced. Exit codes (tf2norm.exit_codes, shared with ``tf2norm migrate``):
0 success, 1 verify found a group above tolerance, 2 bad input (one line on stderr, nothing
written), 3 an internal error.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections import Counter

import click

from tf2norm import exit_codes
from tf2norm._words import plural

EXIT_FAIL, EXIT_BAD_INPUT, EXIT_INTERNAL = exit_codes.CHANGED, exit_codes.BAD_INPUT, exit_codes.INTERNAL

_DATA_FORMAT_HELP = (
    "Layout of a batch_norm group's input, [SCOPE=]FORMAT with FORMAT one of NHWC, NCHW, NC, NWC, "
    "NCW, NDHWC, NCDHW; without SCOPE it applies to every batch_norm group. A TF1 checkpoint does "
    "not record it (batch_norm's data_format argument is not a variable), so it defaults to NHWC "
    "(channels last); NCHW models need it, or the replacement normalises the wrong axis. "
    "Repeatable.")
_SOURCE_HELP = (
    "A program file (legacy TF1 or migrated) whose calls give the settings the checkpoint cannot "
    "record (decay/momentum, epsilon, data_format, forget_bias, activation, groups, ...), read without "
    "running it; --config and --data-format win. Repeatable.")
_CONFIG_HELP = (
    "[SCOPE:]KEY=VALUE: a constructor argument the checkpoint cannot record, e.g. "
    "forget_bias=0.5 for cells, momentum=0.9 (TF1's decay), epsilon=1e-5, fused=false for batch "
    "norms. VALUE is JSON. Without SCOPE it applies to every group that takes KEY. Repeatable.")


def _quiet_tensorflow():
    """Import TensorFlow with its start-up lines (oneDNN, absl, CUDA probes) kept off stderr.

    TF_CPP_MIN_LOG_LEVEL does not reach the lines absl prints before its logging starts, so file
    descriptor 2 itself points at /dev/null while TensorFlow loads (TF2NORM_DEBUG=1 shows them).
    """
    # 3: not even C++ ERROR lines ("oneDNN supports DT_BOOL only on ... AVX-512" while verify runs);
    # what goes wrong reaches tf2norm as an exception and is said in one line. A user's value wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ.get("TF2NORM_DEBUG"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow

        # Its Python warnings too ("Checkpoint ignored" for an unreadable state file): errors are ours to say.
        tensorflow.get_logger().setLevel("ERROR")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _stop_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so convert removes its temporary directory."""
    import signal

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread
        pass


def _handled(command):
    """Bad input -> one line on stderr and exit 2; anything unexpected -> exit 3."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        _quiet_tensorflow()
        _stop_on_sigterm()
        from .errors import CheckpointError

        name = command.__name__.rstrip("_")
        try:
            return command(*args, **kwargs)
        except CheckpointError as exc:
            click.echo(f"tf2norm checkpoint {name}: error: {exc}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # pragma: no cover - the point is to report it, not to hide it
            if os.environ.get("TF2NORM_DEBUG"):
                raise
            first = (str(exc).strip().splitlines() or [""])[0]
            click.echo(f"tf2norm checkpoint {name}: internal error: {type(exc).__name__}: {first} "
                       "(set TF2NORM_DEBUG=1 for the traceback)", err=True)
            sys.exit(EXIT_INTERNAL)

    return run


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=exit_codes.HELP)
def checkpoint():
    """Inspect, convert and verify the TF1 checkpoints of the layers tf2norm replaces.

    Groups: LayerNormBasicLSTMCell (also in MultiRNNCell and bidirectional stacks), contrib and
    tf.layers batch norm, contrib layer_norm, hand-written layer-norm GRU and recurrent batch-norm
    LSTM cells (TF1 Saver checkpoints), and tensorflow-addons' LayerNormLSTMCell,
    LayerNormSimpleRNNCell and GroupNormalization / InstanceNormalization (Keras 2 TF-format
    save_weights checkpoints).

    \b
      tf2norm checkpoint inspect CKPT
      tf2norm checkpoint convert CKPT --out DIR [--data-format SCOPE=NCHW]
      tf2norm checkpoint verify CKPT [--converted DIR] [--golden FILE]

    CKPT is a checkpoint prefix (model.ckpt), its .index file, or a directory holding one.
    """


@checkpoint.command("inspect")
@click.argument("ckpt", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON.")
@click.option("--index-only", is_flag=True,
              help="Read only the index; by default every tensor is read once to check it.")
@_handled
def inspect_(ckpt, as_json, index_only):
    """List the groups recognised in CKPT (every kind tf2norm converts, see --help of checkpoint).

    For each group: its TF1 scope and kind, the TF1 naming it uses (for cells: TF 1.2-1.15
    kernel/bias, TF 1.0 weights/biases, TF 0.12 linear/weights), its place (MultiRNNCell layer,
    bidirectional direction), the inferred configuration (sizes, layer_norm, center, scale, renorm,
    zero_debias_moving_mean, ...) and every variable with shape and dtype. Then the variables not
    recognised (optimizer slots, other layers), which convert leaves out.
    """
    from .errors import CheckpointError
    from .reader import Tf1Checkpoint
    from .report import as_json as to_json
    from .report import as_text

    reader = Tf1Checkpoint(ckpt)
    if not index_only:
        reader.check_readable()
    inv = reader.inventory()
    if as_json:
        click.echo(json.dumps(to_json(reader.path, inv), indent=2))
    else:
        click.echo(as_text(reader.path, inv))
    if inv.problems:
        more = f" (and {len(inv.problems) - 1} more)" if len(inv.problems) > 1 else ""
        raise CheckpointError(inv.problems[0] + more)


@checkpoint.command("convert")
@click.argument("ckpt", type=click.Path())
@click.option("--out", "out", required=True, type=click.Path(),
              help="Directory to create with manifest.json and weights.h5.")
@click.option("--data-format", "data_formats", multiple=True, metavar="[SCOPE=]FORMAT",
              help=_DATA_FORMAT_HELP)
@click.option("--config", "settings", multiple=True, metavar="[SCOPE:]KEY=VALUE", help=_CONFIG_HELP)
@click.option("--source", "sources", multiple=True, type=click.Path(), metavar="FILE", help=_SOURCE_HELP)
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@_handled
def convert(ckpt, out, data_formats, settings, sources, force):
    """Convert the recognised groups of CKPT for tf2norm's replacement layers.

    Writes DIR/weights.h5 (one HDF5 group per TF1 group, one dataset per replacement weight) and
    DIR/manifest.json (each TF1 scope with its replacement class, constructor config and weight
    mapping), tensor by tensor, into a temporary directory renamed to DIR at the end: a failure
    leaves nothing. Load the result with tf2norm.checkpoints.restore(DIR) (fresh layers) or
    restore_into(model, DIR, {scope: layer_name}) (your model).
    """
    from . import kinds
    from .convert import convert as run

    warnings, from_source = [], []
    manifest = run(ckpt, out, data_formats=data_formats, settings=settings, force=force, sources=sources,
                   notes=from_source, warnings=warnings)
    groups = manifest["groups"]
    counts = Counter(e["kind"] for e in groups)
    per_kind = ", ".join(f"{counts[k.ID]} {k.TITLE}" for k in kinds.all_kinds() if counts[k.ID])
    click.echo(f"converted {plural(len(groups), 'group')} ({per_kind or 'none recognised'}) from "
               f"{manifest['source']['checkpoint']} into {os.path.abspath(out)}")
    for e in groups:
        extra = f" data_format={e['data_format']}" if "data_format" in e else ""
        click.echo(f"  {e['scope']} -> {e['class'].rsplit('.', 1)[-1]}({_kwargs(e['config'])})"
                   f"{extra}")
    for line in from_source:
        click.echo(f"note: --source: {line}", err=True)
    assumed = [e for e in groups if "data_format" in e and not e["data_format_given"]]
    if assumed:
        titles = " / ".join(dict.fromkeys(kinds.get(e["kind"]).TITLE for e in assumed))
        click.echo(f"note: data format NHWC assumed for {plural(len(assumed), f'{titles} group')}; pass "
                   "--data-format SCOPE=NCHW for channels-first ones", err=True)
    for line in manifest["left_out"]:
        click.echo(f"note: {line}", err=True)
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    if manifest["not_converted"]:
        click.echo(f"{plural(len(manifest['not_converted']), 'variable')} not converted "
                   "(listed in manifest.json)")


def _kwargs(config) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in config.items())


@checkpoint.command("verify")
@click.argument("ckpt", type=click.Path())
@click.option("--converted", type=click.Path(), default=None,
              help="Load the replacements from this converted directory instead of from CKPT.")
@click.option("--golden", type=click.Path(), default=None,
              help="Compare with outputs recorded from real TF1 (.npz, see "
                   "tf2norm.checkpoints.golden) instead of the NumPy reference.")
@click.option("--atol", type=float, default=1e-5, show_default=True,
              help="Absolute tolerance.")
@click.option("--rtol", type=float, default=0.0, show_default=True,
              help="Relative tolerance: pass when |got - want| <= atol + rtol * |want|.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--data-format", "data_formats", multiple=True, metavar="[SCOPE=]FORMAT",
              help=_DATA_FORMAT_HELP)
@click.option("--config", "settings", multiple=True, metavar="[SCOPE:]KEY=VALUE", help=_CONFIG_HELP)
@click.option("--source", "sources", multiple=True, type=click.Path(), metavar="FILE", help=_SOURCE_HELP)
@_handled
def verify(ckpt, converted, golden, atol, rtol, seed, data_formats, settings, sources):
    """Check that the replacement layers loaded with CKPT's values compute what TF1 computed.

    Each group runs seeded random inputs (a batch of sequences of different lengths from a random
    state for a cell; an inference pass and a training pass for a batch norm, whose updated moving
    statistics are compared too) through the replacement and through tf2norm's independent NumPy
    reference of the TF1 math, or, with --golden, the recorded TF1 inputs, compared with the
    recorded TF1 outputs. Prints one row per group; exits 1 if any group is above tolerance.
    """
    from .verify import format_table, unrecorded_settings_hint
    from .verify import verify as run

    left_out, warnings, from_source = [], [], []
    results = run(ckpt, converted=converted, golden=golden, atol=atol, rtol=rtol, seed=seed,
                  data_formats=data_formats, settings=settings, left_out=left_out, sources=sources,
                  notes=from_source, warnings=warnings)
    for line in from_source:
        click.echo(f"note: --source: {line}", err=True)
    click.echo(format_table(results, atol, rtol))
    for hint in filter(None, (unrecorded_settings_hint(r, converted is not None) for r in results)):
        click.echo(f"note: {hint}", err=True)
    for line in left_out:
        click.echo(f"note: {line.replace('was not converted', 'was not verified')}", err=True)
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    if not all(r.passed for r in results):
        sys.exit(EXIT_FAIL)
