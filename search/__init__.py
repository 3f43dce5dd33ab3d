"""The search side: the engine, its indexes and models, the library, summaries and the app's services.

onnxruntime, on which the embedder and the reranker run, sends usage telemetry to Microsoft
from a background thread of any process that lives long enough (``medsearch summarize`` was
seen looking up ``mobile.events.data.microsoft.com``). Nothing may leave the machine unless
the user asks, so it is switched off here, before anything loads onnxruntime, unless the
environment already says otherwise.
"""

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
