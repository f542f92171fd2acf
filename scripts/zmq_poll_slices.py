"""pytest plugin for the notebook runs (scripts/test.sh, scripts/colab_check.sh): poll kernel channels in slices of at
most 1 s, so that a message is seen within 1 s of arriving.

jupyter/nbclient#312: a kernel's reply can sit unseen in jupyter_client's asyncio zmq poll until the poll's timeout
(nbmake's 300 s), most often after a cell whose widget displays output; the cell then passes, 300 s late. Loaded
with ``-p zmq_poll_slices`` from a folder on PYTHONPATH; not part of the library.
"""
import time
from queue import Empty

from jupyter_client.channels import AsyncZMQSocketChannel

_get_msg = AsyncZMQSocketChannel.get_msg


async def get_msg(self, timeout=None):
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
        try:
            return await _get_msg(self, timeout=left)
        except Empty:
            if deadline is not None and time.monotonic() >= deadline:
                raise


AsyncZMQSocketChannel.get_msg = get_msg
