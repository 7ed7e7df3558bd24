"""Benchmarks of the gateway against miniupnpd in the network-namespace lab (see README.md)."""
