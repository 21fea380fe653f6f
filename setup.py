"""Packaging for n2n-tf.

The top-level ``cli/`` folder is installed as ``n2n_tf.cli`` (never as a
top-level package called ``cli``, which would clash in site-packages).
"""

from setuptools import find_packages, setup

VERSION = "0.1.0"

# Versions verified to install and import together on Python 3.11 (CPU).
INSTALL_REQUIRES = [
    "tensorflow==2.21.0",
    "tensorboard==2.21.0",
    "keras==3.15.1",
    "tensorflow-probability==0.25.0",
    "tf-keras==2.21.0",
    "tensorflow-datasets==4.9.10",
    "importlib_resources>=6.0",
    "numpy>=1.26,<2.5",
    "click==8.2.1",
    "pyyaml>=6.0",
    "rich>=13.0",
    "matplotlib>=3.8",
    "pillow>=10.0",
    "mlxtend==0.23.4",
    "scikit-learn==1.7.2",
    "ai-edge-litert==2.3.0",
]

setup(
    name="n2n-tf",
    version=VERSION,
    description="N2N learning for Keras 3: compress a trained classifier into a small student "
    "by reinforcement learning (Ashok et al., ICLR 2018).",
    python_requires=">=3.10",
    packages=find_packages(include=["n2n_tf", "n2n_tf.*"]) + ["n2n_tf.cli", "n2n_tf.configs"],
    package_dir={"n2n_tf.cli": "cli", "n2n_tf.configs": "configs"},
    package_data={"n2n_tf.configs": ["*.yaml"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={
        "test": ["pytest>=8.0", "pytest-xdist==3.8.0", "hypothesis>=6.100", "ruff==0.17.6"],
        # Rollouts on Ray actors (--executor ray); verified with the pins above.
        "ray": ["ray==2.60.0"],
    },
    entry_points={"console_scripts": ["n2n-tf=n2n_tf.cli.main:main"]},
)
