"""Hostile sound files, built in the test itself (byte by byte, no binary fixtures)."""

from __future__ import annotations

import functools
import io
import struct
import zipfile


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


_CRC16_TABLE = []
for _i in range(256):
    _c = _i << 8
    for _ in range(8):
        _c = ((_c << 1) ^ 0x8005) & 0xFFFF if _c & 0x8000 else (_c << 1) & 0xFFFF
    _CRC16_TABLE.append(_c)


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16_TABLE[(crc >> 8) ^ byte]
    return crc


def _utf8_number(n: int) -> bytes:
    """FLAC codes the frame number like UTF-8 (extended to 36 bits)."""
    if n < 0x80:
        return bytes([n])
    for length, lead in ((2, 0xC0), (3, 0xE0), (4, 0xF0), (5, 0xF8), (6, 0xFC)):
        if n < 1 << (5 * length + 1):
            out = [0x80 | (n >> (6 * i)) & 0x3F for i in range(length - 1)]
            return bytes([lead | (n >> (6 * (length - 1)))] + out[::-1])
    raise ValueError(n)


@functools.cache
def silent_flac(seconds: int, *, rate: int = 48000, channels: int = 2, declare_length: bool = True) -> bytes:
    """FLAC of digital silence: every frame is one CONSTANT subframe per channel, a few bytes for
    65,535 samples, so ten hours of 48 kHz stereo (6.4 GiB of PCM) fit in well under a megabyte.
    ``declare_length=False`` leaves STREAMINFO's total to 0 ("unknown"): no duration to probe."""
    block = 65535
    frames = seconds * rate // block
    rate_code = {8000: 0b0100, 16000: 0b0101, 44100: 0b1001, 48000: 0b1010}[rate]
    total = frames * block if declare_length else 0
    info = struct.pack(">HH", block, block) + b"\0" * 6
    info += ((rate << 44) | ((channels - 1) << 41) | (15 << 36) | total).to_bytes(8, "big") + b"\0" * 16
    out = [b"fLaC", bytes([0x80, 0, 0, len(info)]), info]
    # 16 bits per sample (0b100), blocksize-1 in 16 bits after the number (0b0111).
    fixed = bytes([0xFF, 0xF8, (0b0111 << 4) | rate_code, ((channels - 1) << 4) | (0b100 << 1)])
    subframes = b"\0\0\0" * channels  # type CONSTANT, value 0 (16 bits)
    for number in range(frames):
        header = fixed + _utf8_number(number) + struct.pack(">H", block - 1)
        frame = header + bytes([_crc8(header)]) + subframes
        out.append(frame + struct.pack(">H", _crc16(frame)))
    return b"".join(out)


def wav_header(*, channels: int, rate: int = 8000, bits: int = 16, data: bytes = b"\0" * 4096) -> bytes:
    """A WAV whose header says what we like, whatever follows."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def zip_of(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()
