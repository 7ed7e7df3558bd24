"""What SSDP offers for each announced root device: its targets and how it answers searches.

The reasons are in devices.py's docstring (igd2-device.md 7.1b): with both devices on, the IGD:2
device answers only its own versions, so v1 searches reach the IGD:1 device alone, and the IGD:1
device keeps its own type out of NOTIFYs and ssdp:all, so Home Assistant's `upnp` integration
sees one gateway. A device announced alone answers as UDA 1.1 says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from igd.upnp.devices import INTERNET_GATEWAY_DEVICE
from igd.upnp.ssdp_messages import SsdpTarget

if TYPE_CHECKING:
    from igd.upnp.devices import DeviceTree, GatewayDevices

ANNOUNCE_BOTH = "both"
ANNOUNCE_IGD2 = "igd2"
ANNOUNCE_IGD1 = "igd1"
ANNOUNCE_CHOICES = (ANNOUNCE_BOTH, ANNOUNCE_IGD2, ANNOUNCE_IGD1)
IGD1_TYPE = f"{INTERNET_GATEWAY_DEVICE}:1"


def ssdp_faces(
    devices: GatewayDevices, announce: str
) -> list[tuple[DeviceTree, tuple[SsdpTarget, ...]]]:
    """The root devices `announce` (one of ANNOUNCE_CHOICES) shows, each with its targets."""
    igd2 = announce in (ANNOUNCE_BOTH, ANNOUNCE_IGD2)
    igd1 = announce in (ANNOUNCE_BOTH, ANNOUNCE_IGD1)
    both = igd2 and igd1
    faces: list[tuple[DeviceTree, tuple[SsdpTarget, ...]]] = []
    if igd2:
        targets = [
            SsdpTarget(nt, usn, older_versions=not both) for nt, usn in devices.igd2.ssdp_targets()
        ]
        if not both:  # with the IGD:1 device on, it alone answers WANPPPConnection:1
            targets += [
                SsdpTarget(nt, usn, announced=False)
                for nt, usn in devices.igd2.ssdp_search_only_targets()
            ]
        faces.append((devices.igd2, tuple(targets)))
    if igd1:
        targets = [
            SsdpTarget(nt, usn, announced=not (both and nt == IGD1_TYPE))
            for nt, usn in devices.igd1.ssdp_targets()
        ]
        targets += [
            SsdpTarget(nt, usn, announced=False)
            for nt, usn in devices.igd1.ssdp_search_only_targets()
        ]
        faces.append((devices.igd1, tuple(targets)))
    return faces
