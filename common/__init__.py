"""Shared building blocks of the LIC2020 baselines.

Importing this package is cheap: TensorFlow and bert4keras are imported only by
`common.backend.setup()` and by the modules that build or train models.
"""
