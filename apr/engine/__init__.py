"""Engine: one run from start to finish: its data, training (resume, torchrun), features, evaluation and its
folder on disk, and the store of trained runs by configuration. Imports only data, method and evaluation."""
