"""Evaluation: ranking metrics (CMC, mAP), attribute accuracy and the field's mA, attribute-filtered retrieval,
intervals over training seeds and queries, and galleries that grow. Imports only :mod:`apr.data` and the method
modules."""
