"""The bounds convcli keeps, in one place: each is refused with its number, never a hang.

Pure Python, so that the command line can state them as option ranges
without loading anything heavy.
"""

MAX_KERNEL_SIZE = 1001  # a kernel's side (a family's, a pool's, a template's): longer is a typo
MAX_FRAMES = 10_000  # of an animation or a stack: more is refused before decoding
MAX_JOBS = 1024  # worker processes
MAX_GEOMETRY = 2**31 - 1  # of a stride, dilation or padding: index arithmetic stays in int64
MAX_PIXELS_LIMIT = 2**40  # the largest --max-pixels: a terapixel
MIN_TILE = 16  # --tile: smaller tiles are all overhead (each a task of its own)
MAX_TILE = 65_536  # --tile, output samples a side; each tile is also held to --max-pixels
QUALITIES = (1, 100)  # JPEG, WebP, AVIF, JPEG XL, HEIC quality: the least and the most
COMPRESS_LEVELS = (0, 9)  # zlib's levels, for PNG
MAX_STEPS = 1_000_000  # window positions explain writes out
MAX_EXPLAIN_CHANNELS = 16  # the channels explain shows a layer's filter on, each a grid
MAX_JPEG_SEGMENTS = 256  # metadata segments (APPn, COM) before a JPEG's pixels
MAX_JPEG_METADATA = 16 << 20  # bytes in them: Pillow joins them in time that grows faster
METADATA_BYTES = 16 << 20  # a colour profile, EXIF and text, generously: beside a file's samples
PILLOW_MAX_PIXELS = 89_478_485  # Pillow's own limit (Image.MAX_IMAGE_PIXELS): --max-pixels' default
MAX_WEIGHTS = 1 << 24  # values of a layer's weights read from a file (VGG's largest has 2.4M)
MAX_FILTERS = 4096  # filters (C_out) and channels (C_in) of a layer's weights
MAX_BIAS_BYTES = 1 << 20  # a TOML file of a bias (4096 numbers take under 100 KB)
MAX_BANK_KERNELS = 64  # kernels of one --bank run, each writing its own output per input
MAX_MONTAGE_TILES = 64  # tiles of one --montage sheet: each input and each of its responses
MONTAGE_TILE = 256  # a montage tile's longest side, in pixels: larger images are shown reduced
MAX_FILTER_CHANNELS = 64  # a filter's channels a weight picture draws: the rest are left out, said
MAX_KERNEL_PICTURE = 1024  # kernels show --picture: the most cells along a side of the kernel
MAX_ANIMATION_FRAMES = 400  # explain --animate: frames, one per window position
ANIMATION_FRAMES = 100  # explain --animate without --frames: the first positions, up to this
MAX_FRAME_PIXELS = 1_500_000  # explain --animate: one frame's (a filter on many channels is tall)
# What an output's metadata places hold; more is left out, with a note, never written wrapped.
MAX_PNG_PROFILE = 1 << 20  # bytes of an iCCP profile, decompressed: Pillow's MAX_TEXT_CHUNK
MAX_JPEG_PROFILE_SEGMENTS = MAX_JPEG_SEGMENTS - 3  # APP2s: JPEG counts 255; JFIF, EXIF, Adobe
MAX_PHYS = 2**32 - 1  # PNG's pHYs: pixels per metre, unsigned 32 bits
MAX_BMP_PER_METRE = 2**31 - 1  # BMP's pixels per metre, signed 32 bits
MAX_JFIF_DENSITY = 65_535  # JPEG's JFIF density, dots per inch, 16 bits
MAX_RATIONAL = 2**32 - 1  # TIFF and EXIF resolution: a fraction of two 32-bit numbers
BIGTIFF_BYTES = 2**32 - 2**25  # a TIFF's pixels past this are a BigTIFF (its offsets: 32 bits)
MAX_LOOP_COUNT = 65_535  # a GIF's loop extension and a WebP's loop count: 16 bits
MAX_TEXT_HEADER = 1 << 20  # bytes of a PNM, PFM or FITS text header: a longer one is refused
MAX_PSD_RESOURCES = 16 << 20  # bytes of a PSD's image resources, read for its profile and EXIF
