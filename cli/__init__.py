"""The ``n2n-tf`` command line (installed as ``n2n_tf.cli``)."""
