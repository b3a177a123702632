"""The histories fixture (a SIZO with published visits) for the pages' tests."""

from tests.coordinator.conftest import make_facility, quick_user  # noqa: F401
from tests.histories.conftest import history  # noqa: F401
