"""The HTTP service (FastAPI) around the Reader.

Not built yet: it is the subject of the service issue, which calls
``notereader.reader.Reader``. Nothing here is imported by the reader.
"""
