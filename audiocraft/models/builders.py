"""Config -> objects, for every model family. The only place a model config is read.

Configs follow the reference audiocraft `xp.cfg` layout (see `config/model/`), so the
files stored inside official checkpoints build with the same functions.
"""

# ---- compression model ----

# ---- language model, conditioners, patterns ----
