"""Pure theory: conditions, size formulas, planners and lower bounds.

Modules here import only numpy/math and :mod:`memcap.errors` / :mod:`memcap._util`; both
:mod:`memcap.bounds` and :mod:`memcap.constructions` build on them, never the other way round.
"""
