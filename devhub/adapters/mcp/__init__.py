"""The `dev-hub` MCP server: streamable HTTP at /mcp on the daemon, and stdio with `devhub mcp`."""
