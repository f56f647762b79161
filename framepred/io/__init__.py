"""Reading and writing video: frames with timestamps, encoders, atomic publish, pipelining, spans."""
