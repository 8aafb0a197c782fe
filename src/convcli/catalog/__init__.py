"""The kernel catalog: what a kernel is, where kernels come from, and the parametric families.

``kernel`` defines a kernel; ``catalog`` finds one from a spec (built-in
files, user folders, kernel files, inline matrices); ``families`` builds
``gaussian:sigma=2`` and its kin; ``template`` cuts a matched filter from a
picture. Pure Python until a matrix is built.
"""
