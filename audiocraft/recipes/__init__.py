"""Recipes: multi-stage jobs composed from the entry points, with their command lines.

`toy_build` trains and ships the ``toy`` model (through :func:`audiocraft.train.run`);
`toy_eval` evaluates a model on held-out synthetic music. They sit at the entry-point
level (they import `train` and `models`; nothing in the package imports them), and
``scripts/`` holds their thin command lines. Import the submodules directly.
"""
