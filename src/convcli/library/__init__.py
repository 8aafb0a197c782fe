"""The library's public surface: what ``convcli``'s own names are made of.

``import convcli`` loads none of it: each name is loaded on its first use
(``convcli/__init__.py``). It lies above ``io/``, ``kernels/``, the engine,
``explain`` and the pipeline, and below the command line: ``kernels``
(:func:`kernel`, and :func:`convolve` taking a kernel spec) and ``images``
(:class:`Image`, :func:`read`, :func:`write`). ``convcli.kernels()`` and
``convcli.explain()`` are their own packages' (``kernels.listed``,
``explain.explain_kernel``).
"""
