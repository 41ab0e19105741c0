"""The dashboard: server-rendered pages for people, live over server-sent events, no network assets."""
