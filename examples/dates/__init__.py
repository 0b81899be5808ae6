"""The date-translation study: human-written dates -> ISO ``YYYY-MM-DD``.

Modules
-------
data
    Seeded data generator (Faker + Babel), vocabularies, encoding.
models
    The founding architecture in Keras 3 and PyTorch; safe loaders;
    ``translate``.
train
    ``python -m examples.dates.train --framework keras|torch|both``.
"""
