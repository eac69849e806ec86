"""The mail toolkit: header splitting, decoding, dates, MIME content, forwards, HTML to text."""
