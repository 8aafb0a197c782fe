"""The bounds convcli keeps, in one place: each is refused with its number, never a hang.

Pure Python, so that the command line can state them as option ranges
without loading anything heavy.
"""

MAX_FRAMES = 10_000  # of an animation or a stack: more is refused before decoding
MAX_JOBS = 1024  # worker processes
MAX_PIXELS_LIMIT = 2**40  # the largest --max-pixels: a terapixel
MAX_TILE = 65_536  # --tile, output samples a side; each tile is also held to --max-pixels
MAX_STEPS = 1_000_000  # window positions explain writes out
MAX_JPEG_SEGMENTS = 256  # metadata segments (APPn, COM) before a JPEG's pixels
MAX_JPEG_METADATA = 16 << 20  # bytes in them: Pillow joins them in time that grows faster
MAX_BANK_KERNELS = 64  # kernels of one --bank run, each writing its own output per input
MAX_MONTAGE_TILES = 64  # tiles of one --montage sheet: each input and each of its responses
MONTAGE_TILE = 256  # a montage tile's longest side, in pixels: larger images are shown reduced
MAX_KERNEL_PICTURE = 1024  # kernels show --picture: the most cells along a side of the kernel
MAX_ANIMATION_FRAMES = 400  # explain --animate: frames, one per window position
ANIMATION_FRAMES = 100  # explain --animate without --frames: the first positions, up to this
MAX_TEXT_HEADER = 1 << 20  # bytes of a PNM, PFM or FITS text header: a longer one is refused
MAX_PSD_RESOURCES = 16 << 20  # bytes of a PSD's image resources, read for its profile and EXIF
