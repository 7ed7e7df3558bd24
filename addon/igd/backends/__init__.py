"""NAT backends: the kernel side of port mappings (nftables, iptables, memory)."""
