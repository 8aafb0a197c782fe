"""The library's public surface: what ``convcli``'s own names are made of.

``import convcli`` loads none of it: each name is loaded on its first use
(``convcli/__init__.py``). It lies above ``io/``, ``catalog/``, the engine,
``explanation``, the pictures and the run, and below the command line,
which uses nothing else: ``apply`` (:func:`apply`, one input through the
run's own steps), ``batch`` (:func:`batch`, files and folders: planning, the
jobs, a cluster, the report file, a contact sheet), ``kernels``
(:func:`kernel`, :func:`kernels`, without NumPy), ``explain`` (a
convolution worked out and drawn), ``convolve`` (the engine's, taking a
kernel spec) and ``images`` (:class:`Image`, :func:`read`, :func:`write`).
"""
