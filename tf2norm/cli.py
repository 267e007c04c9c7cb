"""The `tf2norm` command: thin glue over the three subpackages.

Subcommands are imported only when they run, so `tf2norm --help` and `tf2norm migrate`
never pay for importing TensorFlow.
"""

from __future__ import annotations

import importlib

import click

# name -> (module, attribute, one-line help). The module defines a click command.
_SUBCOMMANDS = {
    "migrate": ("tf2norm.rewriters.command", "migrate", "Rewrite TF1 normalisation code for TF2 / Keras 3."),
    "checkpoint": ("tf2norm.checkpoints.command", "checkpoint", "Inspect, convert and verify TF1 checkpoints."),
    "upgrade": ("tf2norm.upgrade.command", "upgrade",
                "TensorFlow's tf_upgrade_v2, without its crash on y[(a):(b), :] or on a file it cannot parse."),
}
# Subcommands that need TensorFlow, which `pip install tf2norm` does not bring (see _requirements).
_NEED_TENSORFLOW = {"checkpoint"}


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(_SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in _SUBCOMMANDS:
            return None
        module_name, attribute, _ = _SUBCOMMANDS[name]
        if name in _NEED_TENSORFLOW:
            from tf2norm._requirements import problem

            reason = problem(f"tf2norm {name}")
            if reason is not None:
                click.echo(f"error: {reason}", err=True)
                ctx.exit(2)
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx, formatter):
        # Listing the commands must not import them: use the static help lines.
        rows = [(name, _SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tf2norm")
def main():
    """Migrate TF1 normalisation code to TF2 / Keras 3 with the same numbers TF 1.x computed:
    contrib batch_norm and layer_norm, tf.layers batch normalization, LayerNormBasicLSTMCell,
    tensorflow-addons' layer-norm cells and group/instance norms, hand-written LN-GRU and
    BN-LSTM cells; and their checkpoints."""
