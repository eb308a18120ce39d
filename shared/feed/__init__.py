"""Parsing of the F1 live-timing feed, whatever its source.

Every source (a live SignalR capture in any of its recording formats, or a live-timing archive
session folder) becomes the same stream of :class:`FeedMessage` in time order, and
:func:`merge_delta` folds the deltas of one topic into its current state exactly as the F1 feed
expects its clients to. Pure domain logic: no I/O beyond reading a folder the caller names.
"""

from shared.feed.archive import (
    StreamAnchor,
    archive_messages,
    estimate_start_utc,
    index_session_info,
    parse_stream_line,
    read_archive_dir,
)
from shared.feed.merge import apply_message, merge_delta
from shared.feed.messages import FeedMessage, format_utc, parse_utc
from shared.feed.recording import (
    ParseStats,
    decode_z,
    encode_z,
    load_snapshot,
    parse_line,
    read_recording,
)

__all__ = [
    "FeedMessage",
    "ParseStats",
    "StreamAnchor",
    "apply_message",
    "archive_messages",
    "decode_z",
    "encode_z",
    "estimate_start_utc",
    "format_utc",
    "index_session_info",
    "load_snapshot",
    "merge_delta",
    "parse_line",
    "parse_stream_line",
    "parse_utc",
    "read_archive_dir",
    "read_recording",
]
