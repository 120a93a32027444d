"""A Boomi Platform API simulator: a real HTTP server on loopback serving one synthetic account.

    from airflow_provider_boomi.testing.simulator import BoomiSimulator, FaultRule

    with BoomiSimulator(profile="demo", seed=0) as sim:
        ...  # point a client at sim.base_url / sim.account_id with sim.email and sim.token

It shares no code with ``airflow_provider_boomi.client`` and does not import Airflow.
See ``docs/simulator.md``.
"""

from .config import DIALECTS, SimulatorConfig
from .errors import SimulatorApiError
from .faults import FaultRule
from .profiles import PROFILES
from .records import RequestRecord
from .simulator import BoomiSimulator
from .state import SimulatorState

__all__ = [
    "DIALECTS",
    "PROFILES",
    "BoomiSimulator",
    "FaultRule",
    "RequestRecord",
    "SimulatorApiError",
    "SimulatorConfig",
    "SimulatorState",
]
