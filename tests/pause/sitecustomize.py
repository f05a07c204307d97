"""Run at the start of every Python process whose PYTHONPATH names this folder (tests.pausing.environment): installs
the test's pause point when ``$APR_TEST_PAUSE_AT`` asks for one."""

import os

if os.environ.get("APR_TEST_PAUSE_AT"):
    from tests.pausing import install

    install(os.environ["APR_TEST_PAUSE_AT"])
