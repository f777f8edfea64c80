"""The service around the reader: store writes, queue, worker jobs, audit and write-back."""
