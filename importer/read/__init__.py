"""Reading: archives on disk (mbox variants, Maildir, .eml, compressed) into raw messages."""
