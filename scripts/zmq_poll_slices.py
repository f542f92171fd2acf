"""pytest plugin for the notebook runs (scripts/test.sh, scripts/colab_check.sh): poll kernel channels in slices of at
most 1 s, so that a message is seen within 1 s of arriving.

jupyter/nbclient#312: a kernel's reply can sit unseen in jupyter_client's asyncio zmq poll until the poll's timeout
(nbmake's 300 s), most often after a cell whose widget displays output; the cell then passes, 300 s late. Loaded
with ``-p zmq_poll_slices`` from a folder on PYTHONPATH; not part of the library.
"""
import inspect
import time
from queue import Empty

from jupyter_client import channels

# jupyter_client 8 names the asyncio channel AsyncZMQSocketChannel; in 7.x (Colab's 7.4.9) ZMQSocketChannel is it
Channel = getattr(channels, "AsyncZMQSocketChannel", None) or channels.ZMQSocketChannel
assert inspect.iscoroutinefunction(Channel.get_msg), f"{Channel.__name__}.get_msg is not async: nothing to patch"
_get_msg = Channel.get_msg


async def get_msg(self, timeout=None):
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
        try:
            return await _get_msg(self, timeout=left)
        except Empty:
            if deadline is not None and time.monotonic() >= deadline:
                raise


Channel.get_msg = get_msg
