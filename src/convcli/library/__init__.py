"""The library's public surface: what ``convcli``'s own names are made of.

``import convcli`` loads none of it: each name is loaded on its first use
(``convcli/__init__.py``). It lies above ``io/``, ``catalog/``, the engine,
``explanation`` and the run, and below the command line: ``kernels``
(:func:`kernel`, :func:`kernels`, and :func:`convolve` taking a kernel spec)
and ``images`` (:class:`Image`, :func:`read`, :func:`write`).
``convcli.explain`` is ``explanation.explain``.
"""
