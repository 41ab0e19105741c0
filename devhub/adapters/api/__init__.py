"""The HTTP adapters: REST (State Hub compatible), plus mounts for MCP and the dashboard."""
