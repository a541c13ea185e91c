"""Realtime: the WebSocket channel, WebRTC media and transcription."""
