"""py2pickle.py - writes pickles byte for byte as Python 2's pickle module writes them.

The course files that matter most were pickled by Python 2: CIFAR-10's python
batches (cPickle, protocol 2) and Nielsen's mnist.pkl.gz (cPickle, protocol 2),
and Python 2's default protocols are 0 and 1.  Python 2 is not on this
machine, so this module makes the same bytes with python3's pure-Python
pickler and what differs in Python 2:

- a Python 2 `str` is bytes, written as STRING (protocol 0: S'...' in repr
  quoting) or SHORT_BINSTRING / BINSTRING (protocols 1 and 2), never as
  python3's `_codecs.encode(...)` call; so the dict keys b"data", the array
  data and numpy's b"b" type code are written that way;
- numpy's dtype reduces to dtype('u1', 0, 1) with the spec and the byte
  order of its state as such `str`s (python3's numpy writes the spec as text
  and False, True).

That is exactly what Python 2's pickle module writes; cPickle, which wrote the
CIFAR batches, differs only in its memo (numbered from 1, and objects that
nothing else refers to are not memoized), which a reader follows the same way.

Read back in python3 with pickle.load(f, encoding="bytes"), as the courses do.

    dumps(obj, protocol)     protocol 0, 1 or 2
"""
import io
import pickle
import struct

import numpy as np


class Py2Pickler(pickle._Pickler):
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if self.bin:
            if len(obj) < 256:
                self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
            else:
                self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        else:
            self.write(pickle.STRING + repr(obj)[1:].encode("ascii") + b"\n")
        self.memoize(obj)

    dispatch[bytes] = save_py2_str

    def reducer_override(self, obj):
        if isinstance(obj, np.dtype):
            cls, args, state = obj.__reduce__()
            state = tuple(s.encode("ascii") if isinstance(s, str) else s for s in state)
            return cls, (args[0].encode("ascii"), 0, 1), state
        return NotImplemented


def dumps(obj, protocol):
    assert protocol in (0, 1, 2)
    f = io.BytesIO()
    Py2Pickler(f, protocol).dump(obj)
    return f.getvalue()
