"""Profiles and the MCP client configurations that point agents at a hub."""
