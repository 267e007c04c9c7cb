"""The exit status of every `tf2norm` command, in one place (black/ruff-like).

* 0 -- success: nothing to change, nothing reported; a checkpoint command did what it was asked.
* 1 -- the answer is "no": a file changed or would change (--check, --diff), a finding remains, a file
  could not be processed (reported with its code), or `checkpoint verify` found a group above
  tolerance.
* 2 -- usage error or bad input: an unknown option, a missing path, a checkpoint, converted
  directory, golden file or option tf2norm cannot use (one line on stderr; nothing written).
* 3 -- internal error: a bug in tf2norm (a rewriter crashed on a file, an unexpected exception);
  please report it. Other files of a `migrate` run are still processed. Also a `migrate --jobs`
  worker process killed from outside (the out-of-memory killer): the run stops, saying so.
"""

from __future__ import annotations

OK = 0
CHANGED = 1  # changes, findings, unprocessable files, verify failures
BAD_INPUT = 2  # also click's own status for a usage error
INTERNAL = 3

#: The policy as both --help texts print it (their epilog).
HELP = ("Exit status: 0 nothing to do / success; 1 a file changed or would change, a finding remains, "
        "a file could not be processed, or verify found a group above tolerance; 2 usage error or bad "
        "input (nothing written); 3 internal error (a tf2norm bug: please report it).")
