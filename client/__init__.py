"""The browser client (static files served under /client/)."""
