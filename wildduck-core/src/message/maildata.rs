//! Derived data kept beside the tree: indexed headers, Message-ID, subject, dates, text/html/intro, attachments, thread keys.
