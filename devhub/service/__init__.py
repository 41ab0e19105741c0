"""The hub: read model, writes, relay wiring, watching and events, behind one port."""
