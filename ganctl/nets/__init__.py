"""Generator and discriminator architectures; the engine builds them from `conf/model/<id>.yaml`.

Networks:
    mlp.MlpGenerator, mlp.MlpDiscriminator        fully connected, for points (2-D mixtures) or flattened images
    dcgan.DcganGenerator, dcgan.DcganDiscriminator  DCGAN-style conv nets (Radford et al. 2015, arXiv:1511.06434)
                                                  for square images with an even side >= 8 (8, 28, 32, 64, ...)
    layers.make_norm                              the one place a norm name ("none", "batch", "layer") becomes a layer

The contract the engine relies on (data_shape is (d,) for points or (C, H, W) for images):
    Generator(z_dim, data_shape, <hyperparameters with defaults>)
        forward(z): (B, z_dim) -> (B, *data_shape); image generators end in tanh (data scaled to [-1, 1]),
        point generators end linear (2-D mixtures reach +-4).
    Discriminator(data_shape, norm=..., <hyperparameters with defaults>), norm in {"none", "batch", "layer"}
        forward(x): (B, *data_shape) -> (B,) raw scores (logits or critic values, no sigmoid).
        norm="none" and "layer" keep samples independent (sample i's score ignores the rest of the batch),
        which per-sample gradient penalties (WGAN-GP) need; method configs set norm: none for that reason.
Bad sizes or an unknown norm raise ganctl.errors.UserError with a one-line fix.

This package imports only torch and ganctl.errors.
"""
