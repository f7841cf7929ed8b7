"""A local Run:ai emulator for testing code that uses this client.

    async with RunaiEmulator() as emulator:
        registry = emulator.add_registry("docker-hub")
        emulator.add_repository(registry.id, "team/app", tags=["1.0", "latest"])
        async with RegistryClient(emulator.base_url, token=emulator.token) as client:
            ...

With pytest, the ``runai_emulator`` fixture gives a started emulator. From a shell,
``runai-registry emulator`` serves one until Ctrl-C.
"""

from ._emulator import RecordedRequest, RunaiEmulator
from ._faults import OPERATIONS, Fault
from ._store import StoredRegistry

__all__ = ["OPERATIONS", "Fault", "RecordedRequest", "RunaiEmulator", "StoredRegistry"]
