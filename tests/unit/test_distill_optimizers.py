"""The fused-kernel optimizers apply Keras 3's updates, one op per variable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from n2n_tf.distill.optimizers import FusedAdamW, FusedSGD


def _small():
    """Conv, pooling and dense layers; no BatchNorm, whose bias gradients are round-off."""
    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(6, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Dense(12, activation="relu")(layers.Flatten()(x))
    return keras.Model(inputs, layers.Dense(4)(x))


def _train(model, optimizer, steps=6):
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(16, 8, 8, 3)).astype("float32"))
    t = tf.constant(rng.normal(size=(16, 4)).astype("float32"))
    optimizer.build(model.trainable_variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - t))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    losses = [float(step()) for _ in range(steps)]
    return [np.array(w) for w in model.trainable_weights], losses


def _pair():
    keras.utils.set_random_seed(0)
    a = _small()
    b = keras.models.clone_model(a)
    b.set_weights(a.get_weights())
    return a, b


@pytest.mark.parametrize(
    ("fused", "reference"),
    [
        (
            lambda: FusedAdamW(3e-3, weight_decay=5e-2),
            lambda: keras.optimizers.AdamW(3e-3, weight_decay=5e-2),
        ),
        (
            lambda: FusedSGD(keras.optimizers.schedules.CosineDecay(0.05, 6), weight_decay=1e-2),
            lambda: keras.optimizers.SGD(
                keras.optimizers.schedules.CosineDecay(0.05, 6),
                momentum=0.9,
                nesterov=True,
                weight_decay=1e-2,
            ),
        ),
    ],
    ids=["adamw", "sgd-nesterov-cosine"],
)
def test_fused_optimizer_matches_keras(fused, reference):
    a, b = _pair()
    ours, our_losses = _train(a, fused())
    theirs, their_losses = _train(b, reference())
    assert our_losses[-1] < our_losses[0]  # it trains
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-5)
    for w_ours, w_theirs, w0 in zip(ours, theirs, _pair()[0].trainable_weights, strict=True):
        np.testing.assert_allclose(w_ours, w_theirs, rtol=1e-4, atol=1e-6)
        assert not np.allclose(w_ours, np.array(w0))  # every variable was updated


def test_weight_decay_alone_shrinks_weights_by_lr_times_decay():
    var = tf.Variable([1.0, -2.0])
    opt = FusedSGD(0.1, weight_decay=0.5, momentum=0.0)
    opt.build([var])
    opt.apply_gradients([(tf.zeros(2), var)])
    np.testing.assert_allclose(var.numpy(), [0.95, -1.9], rtol=1e-6)
    assert int(opt.iterations.numpy()) == 1


def test_unbuilt_variable_is_a_clear_error():
    opt = FusedAdamW()
    opt.build([tf.Variable([1.0])])
    with pytest.raises(ValueError, match="not built for this variable"):
        opt.apply_gradients([(tf.ones(1), tf.Variable([2.0]))])
