"""The library's public surface: what ``convcli``'s own names are made of.

``import convcli`` loads none of it: each name is loaded on its first use
(``convcli/__init__.py``). It lies above ``io/``, ``catalog/``, the engine,
``explanation`` and the run, and below the command line: ``apply``
(:func:`apply`, one input through the run's own steps, and the settings
checked for the command line too), ``kernels`` (:func:`kernel`,
:func:`kernels`, without NumPy), ``convolve`` (the engine's, taking a
kernel spec) and ``images`` (:class:`Image`, :func:`read`, :func:`write`).
``convcli.explain`` is ``explanation.explain``. ``batch`` is not public:
the composition of ``convcli apply``'s batch run, beneath its options.
"""
