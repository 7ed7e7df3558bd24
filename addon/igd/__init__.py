"""The UPnP Gateway daemon: a WANIPConnection:2 Internet Gateway Device over the host's NAT."""

__version__ = "0.1.0"
