"""Files: reading and writing images and arrays, and finding the inputs of a run.

``reading`` reads an input (through ``pillow``, ``tiff`` or the table of
``decoders``) and ``writing`` writes one; ``png`` is convcli's own PNG
writer; ``atomic`` writes a file whole or not at all; ``inputs`` expands the
command line's files and folders.
"""
