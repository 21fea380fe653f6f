"""The RL search: policies (tfp), reward, REINFORCE, the two-stage loop (the
``compress`` job that runs it is ``jobs.compress``)."""

from n2n_tf.search.loop import Search
from n2n_tf.search.policies import RemovalPolicy, ShrinkPolicy
from n2n_tf.search.reinforce import Baseline, reinforce_update
from n2n_tf.search.reward import Constraints, anneal, compression, reward

__all__ = [
    "Baseline",
    "Constraints",
    "RemovalPolicy",
    "Search",
    "ShrinkPolicy",
    "anneal",
    "compression",
    "reinforce_update",
    "reward",
]
