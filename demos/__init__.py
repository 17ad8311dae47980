"""Demos: trained models and live pipelines built on bnnkit's generated C.

``bnnkit.demos.classification`` holds the Fashion-MNIST and paper-digits
classifiers (training scripts, shipped models, cards, evaluation), the
frame sources live in ``bnnkit.demos.sources``.
"""
