"""The interview server: composition root (app, CLI), the HTTP edge and the session core."""
