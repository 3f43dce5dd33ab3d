"""The search side: the engine, its indexes and models, the library, summaries and the app's services.

Process settings the native runtimes read (onnxruntime's telemetry, OpenMP's wait policy) are
set by :func:`search.runtime_env.configure`, which the entry points call first.
"""
