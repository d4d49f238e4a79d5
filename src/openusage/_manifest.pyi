# The warm check's stats, compiled (_manifest.c); its reference and documentation are
# `openusage.manifest.differ_pure`.
MANIFEST_VERSION: int

def differ(paths: bytes, expected: bytes, /) -> list[int]: ...
