"""The asyncio shell of the channel: tasks, the socket, the store; decisions come from the protocol core."""

from realtime.channel.asyncio.connection import Connection
from realtime.channel.context import ChannelContext

__all__ = ["ChannelContext", "Connection"]
