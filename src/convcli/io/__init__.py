"""Files: reading and writing images and arrays, and finding the inputs of a run.

``images`` reads and writes (the only module that imports Pillow); ``png``
is convcli's own PNG writer; ``atomic`` writes a file whole or not at all;
``inputs`` expands the command line's files and folders.
"""
