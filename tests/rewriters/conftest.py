import pytest

# Show the differing text when a before/after check fails.
pytest.register_assert_rewrite("tests.rewriters.rewriter_cases")
