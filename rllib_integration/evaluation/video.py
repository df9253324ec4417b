"""Video files browsers play: H.264 MP4 through PyAV (which ships its own FFmpeg in its wheel, so pip alone
installs it), and an optional small GIF for READMEs (Pillow).

OpenCV's ``mp4v`` (MPEG-4 part 2) plays in desktop players but in no browser; H.264 in yuv420p with the
index at the front of the file (``+faststart``) plays everywhere, also while it downloads.
"""

from __future__ import annotations

import os

import numpy as np

GIF_EVERY = 3  # a GIF keeps every third frame ...
GIF_SIZE = 240  # ... at this width (pixels)


class VideoWriter:
    """``write(frame)`` BGR uint8 frames of one size to an H.264 MP4 at ``path`` (its folder made); ``gif``: also
    a GIF of every :data:`GIF_EVERY`-th frame, :data:`GIF_SIZE` pixels wide. ``fix`` ends the error message of a
    path that cannot be written."""

    def __init__(self, path: str, fps: float, fix: str, gif: str | None = None) -> None:
        import av
        self.path, self.fps, self.gif = path, float(fps), gif
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.container = av.open(path, "w", options={"movflags": "+faststart"})
        except (OSError, av.error.FFmpegError) as error:
            raise OSError(f"cannot write a video to {path} ({error}). Fix: {fix}") from None
        self.stream = None
        self.gif_frames: list = []
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        import av
        height, width = frame.shape[:2]
        if self.stream is None:
            self.stream = self.container.add_stream("libx264", rate=max(1, round(self.fps)))
            self.stream.width, self.stream.height = width - width % 2, height - height % 2  # 4:2:0 needs even sizes
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = {"crf": "23", "preset": "veryfast"}
        frame = np.ascontiguousarray(frame[:self.stream.height, :self.stream.width])
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
            self.container.mux(packet)
        if self.gif is not None and self.frames % GIF_EVERY == 0:
            from PIL import Image
            image = Image.fromarray(frame[..., ::-1])
            self.gif_frames.append(image.resize((GIF_SIZE, max(1, round(GIF_SIZE * height / width)))))
        self.frames += 1

    def close(self) -> None:
        if self.stream is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()
        if self.gif is not None and self.gif_frames:
            os.makedirs(os.path.dirname(os.path.abspath(self.gif)), exist_ok=True)
            self.gif_frames[0].save(self.gif, save_all=True, append_images=self.gif_frames[1:], loop=0, optimize=True,
                                    duration=round(1000 * GIF_EVERY / self.fps))
