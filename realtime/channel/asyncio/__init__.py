"""The asyncio shell of the channel: tasks, the socket, the store; decisions come from the protocol core."""

from realtime.channel.asyncio.connection import ChannelContext, Connection

__all__ = ["ChannelContext", "Connection"]
