"""The RL search: policies (tfp), reward, REINFORCE, the two-stage loop, ``compress``."""

from n2n_tf.search.compress import CompressionResult, compress
from n2n_tf.search.loop import Search
from n2n_tf.search.policies import RemovalPolicy, ShrinkPolicy
from n2n_tf.search.reinforce import Baseline, reinforce_update
from n2n_tf.search.reward import Constraints, anneal, compression, reward

__all__ = [
    "Baseline",
    "CompressionResult",
    "Constraints",
    "RemovalPolicy",
    "Search",
    "ShrinkPolicy",
    "anneal",
    "compress",
    "compression",
    "reinforce_update",
    "reward",
]
