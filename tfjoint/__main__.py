"""Entry point: `python -m tfjoint check|compare|graph|fit [MODULE:ATTR]`."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: keep C++ log noise out

from tfjoint.cli.main import run  # noqa: E402

if __name__ == "__main__":
    run()
