"""The mapping core: every rule of WANIPConnection:2, with no sockets, XML or kernel."""
