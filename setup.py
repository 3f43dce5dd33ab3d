"""The compiled part of the ingest reader (``ingest/_fastxml.pyx``), optional.

Everything else is in ``pyproject.toml``. Where the extension cannot be built
(no C compiler), the install goes on and the pure-Python reader does all the
work, about half as fast.
"""

import lxml
from Cython.Build import cythonize
from setuptools import Extension, setup

extension = Extension(
    "ingest._fastxml",
    ["ingest/_fastxml.pyx"],
    include_dirs=lxml.get_include(),
    extra_compile_args=["-O2"],
    optional=True,
)
setup(ext_modules=cythonize([extension], compiler_directives={"language_level": "3"}, quiet=True))
