"""Thin adapters over the hub port: REST (api), MCP (mcp) and the dashboard."""
