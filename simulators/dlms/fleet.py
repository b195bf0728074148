"""A fleet of simulated SPODES meters: one :class:`DlmsSimulator` per bus and an optional control
port, started and stopped together (``isu sim --config FILE`` with ``protocol = "dlms"``, and
``isu sim dlms`` as a fleet of one bus).

::

    DlmsFleet ─┬─ DlmsSimulator (TCP: HDLC or wrapper; or HDLC on a serial pty) ── meters × K
               └─ ControlServer (JSON lines, simulators/control.py → commands.py)

In-process use (tests)::

    config = load_toml("deploy/sim/dlms.sample.toml", DlmsFleetConfig)
    async with DlmsFleet.from_config(config, clock=ManualClock()) as fleet:
        fleet.describe()["buses"][0]["listen"]
        fleet.meter("dlms-50000016").open_cover()
"""

from __future__ import annotations

from typing import Any

from core.errors import ConfigError
from simulators.dlms.commands import run_command
from simulators.dlms.config import DlmsBusConfig, DlmsFleetConfig, default_serial
from simulators.dlms.meter import SpodesMeter
from simulators.dlms.simulator import DlmsSimulator, client_levels
from simulators.lifecycle import BusFleet, run_until_signal
from simulators.mercury230.clock import Clock, system_clock
from simulators.mercury230.config import parse_listen
from simulators.serial import PtyPort

__all__ = ["DlmsFleet", "bus_simulator", "run_fleet"]

def bus_simulator(config: DlmsBusConfig, *, bus_index: int, seed: int,
                  clock: Clock) -> DlmsSimulator:
    """The line ``config`` describes, its meters seeded from ``seed`` on (unless their own)."""
    addresses = config.addresses()
    meters, ids, levels = [], [], []
    for position, (meter_config, address) in enumerate(
            zip(config.meter, addresses, strict=True)):
        try:
            settings = meter_config.to_settings(
                default_serial=default_serial(bus_index, address), default_seed=seed + position)
        except (LookupError, ValueError) as exc:
            raise ConfigError(f"bus.{bus_index}.meter.{position}: {exc}") from exc
        meters.append(SpodesMeter(settings, clock=clock))
        ids.append(meter_config.meter_id or f"dlms-{settings.serial}")
        reader, configurator = meter_config.secrets()
        hls = settings.serial if meter_config.configurator == "hls-gmac" else None
        levels.append(None if reader is None and configurator is None and hls is None
                      else client_levels(reader, configurator, hls_gmac_serial=hls))
    pty = None
    host, port = "127.0.0.1", 0
    if config.serial_pty:
        pty = PtyPort(config.baud, config.parity, echo=config.echo)
    else:
        host, port = parse_listen(config.listen)
    simulator = DlmsSimulator(
        meters, transport=config.transport, host=host, port=port, pty=pty, addresses=addresses,
        max_info=config.max_info, block_size=config.block_size or None,
        name=config.name or f"bus-{bus_index + 1}", meter_ids=ids, levels=levels,
        inter_octet_s=config.gap_s)
    for index, meter_config in enumerate(config.meter):
        if meter_config.fault is not None:
            simulator.set_fault(index, meter_config.fault.to_fault())
    return simulator


class DlmsFleet(BusFleet[DlmsSimulator]):
    """Lines of SPODES meters and an optional control port, started and stopped together."""

    protocol = "dlms"

    def bus_clock(self, bus: DlmsSimulator) -> Clock:
        return bus.meter.clock

    @classmethod
    def from_config(cls, config: DlmsFleetConfig, *, clock: Clock = system_clock) -> DlmsFleet:
        """The fleet a validated fleet file describes; :class:`ConfigError` for what the
        schema cannot see."""
        buses = []
        seed = config.seed
        for index, bus_config in enumerate(config.bus):
            buses.append(bus_simulator(bus_config, bus_index=index, seed=seed, clock=clock))
            seed += len(bus_config.meter)
        control = None if config.control is None else parse_listen(config.control.listen)
        return cls(buses, control=control, clock=clock)

    def summary(self) -> str:
        return f"{len(self.meters)} simulated SPODES meter(s)"

    # -- meters and control --------------------------------------------------------------------

    @property
    def meters(self) -> list[SpodesMeter]:
        return [meter for bus in self.buses for meter in bus.meters]

    def meter(self, key: int | str, bus: int | None = None) -> SpodesMeter:
        """A meter by HDLC address (``bus`` index when addresses repeat), meter id or serial;
        ``KeyError`` when there is none or the key is ambiguous."""
        lines = self.buses if bus is None else [self.buses[bus]]
        found = [
            line.meters[i] for line in lines for i in range(len(line.meters))
            if (line.addresses[i] == key if isinstance(key, int)
                else key in (line.meter_ids[i], line.meters[i].settings.serial))
        ]
        if len(found) != 1:
            problem = "no meter" if not found else f"{len(found)} meters"
            raise KeyError(f"{problem} match {key!r}" + ("" if bus is None else f" on bus {bus}"))
        return found[0]

    def command(self, document: dict[str, Any]) -> dict[str, Any]:
        """Run one control command (docs/simulators.md, "DLMS"); never raises."""
        return run_command(self.buses, document, clock=self.clock, describe=self.describe)


async def run_fleet(fleet: DlmsFleet) -> int:
    """Start ``fleet``, print where it listens, run until SIGINT or SIGTERM; 0 after a clean
    stop, 1 when it cannot start (the reason on standard error, nothing on standard output)."""
    return await run_until_signal(lambda: fleet)
