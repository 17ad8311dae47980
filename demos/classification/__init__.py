"""Image classification demo: models, training, evaluation and the live pipeline.

The device side (``pipeline``, ``preprocess``, ``overlay``) imports only
numpy, cffi and cv2; training and evaluation need torch.
"""
